package extract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxMappingBytes is the largest mapping file ParseMapping reads.
const MaxMappingBytes = 1 << 20

// Sentinel causes of mapping errors, wrapped in a *MappingError.
var (
	ErrMappingSyntax = errors.New("not a mapping document")
	ErrUnknownKey    = errors.New("unknown key")
	ErrMissing       = errors.New("missing")
	ErrInvalid       = errors.New("invalid value")
)

// MappingError names where in a mapping file a problem is.
type MappingError struct {
	File   string // set by LoadMapping
	Line   int    // 1-based YAML line; 0 when the mapping was not read from YAML
	Column int    // 1-based YAML column
	Path   string // e.g. "fields.birth_date.layouts[1]"
	Msg    string // what is wrong, in words
	Err    error  // one of the Err* sentinels
}

func (e *MappingError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	switch {
	case e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	case e.Line > 0:
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	return b.String()
}

func (e *MappingError) Unwrap() error { return e.Err }

// Pos is a position in the mapping's YAML source, 1-based; zero when the
// mapping was built in Go.
type Pos struct{ Line, Column int }

// Mapping says how the rows of one kind of extract file become records.
// ParseMapping builds and checks one from YAML; a Mapping built in Go is
// checked by Validate and by the Loader.
type Mapping struct {
	Name      string     // the source's name; its watermark is stored under it
	Entity    Entity     // what each row becomes
	Format    Format     // how the file is written
	Key       []string   // fields that identify a record; nil: the entity's default
	Watermark string     // column whose time orders rows for incremental loads; "" for none
	Empty     EmptyRule  // what a mapped field a row leaves empty means: EmptyKeep ("" too) or EmptyClear
	Fields    []FieldMap // one per mapped field, each field at most once

	pos map[string]Pos // YAML positions of top-level and format keys, by path
}

// EmptyRule says what an empty value of a mapped field means for the
// record stored under the row's key.
type EmptyRule string

// The rules for empty values (YAML: empty: keep or empty: clear).
const (
	// EmptyKeep: an empty value says nothing, and the stored value stays,
	// as an HL7 field left empty does. The default.
	EmptyKeep EmptyRule = "keep"
	// EmptyClear: the row is the record's whole current state (a
	// snapshot extract), so an empty value of a field read from the file
	// clears the stored value, as HL7's null "" does: the record's Clear
	// names the field. Keys, identifiers and updated_at are never
	// cleared; see Patient.Clear and Encounter.Clear for the fields.
	EmptyClear EmptyRule = "clear"
)

// Delimiters by name, for Format.Delimiter.
var delimiterNames = map[string]byte{
	"comma": ',', "tab": '\t', "pipe": '|', "semicolon": ';',
}

// Format describes the file's layout.
type Format struct {
	Delimiter byte     // field separator; ',' when zero
	Quote     byte     // quote character; 0 when the file never quotes (YAML: quote: none)
	Header    bool     // the first line names the columns (YAML default: true)
	Encoding  Encoding // "" means UTF-8
	// Timezone is the IANA name of the zone that datetimes without an
	// offset are in, e.g. "America/Chicago". Required when a time field is
	// mapped: extracts from Clarity and Cerner carry local wall-clock times.
	Timezone string
	// Columns is the number of fields in every row of a file without a
	// header; 0 takes the first row's count.
	Columns int
}

// Encoding of an extract file.
type Encoding string

// Supported encodings. ISO-8859-1 is read as Windows-1252, as the WHATWG
// Encoding Standard does: files labelled Latin-1 by Windows tools carry
// Windows-1252 punctuation (’ “ ” –) in 0x80–0x9F.
const (
	UTF8        Encoding = "utf-8"
	ISO88591    Encoding = "iso-8859-1"
	Windows1252 Encoding = "windows-1252"
)

var encodingNames = map[string]Encoding{
	"utf-8": UTF8, "utf8": UTF8,
	"iso-8859-1": ISO88591, "latin1": ISO88591, "latin-1": ISO88591, "iso8859-1": ISO88591,
	"windows-1252": Windows1252, "cp1252": Windows1252,
}

// ColumnType says how a source cell is read.
type ColumnType string

// Column types.
const (
	TypeString   ColumnType = "string"   // text as is
	TypeInt      ColumnType = "int"      // optional sign and digits; stored without leading zeros
	TypeDecimal  ColumnType = "decimal"  // optional sign, digits, optional fraction; stored as written
	TypeDate     ColumnType = "date"     // Go time layouts; the precision follows the layout
	TypeDateTime ColumnType = "datetime" // Go time layouts, in Format.Timezone unless the layout has an offset
)

// FieldMap says where one field's value comes from and how it is read.
// Exactly one of Column, Columns and Value is the source.
type FieldMap struct {
	Field     string   // field name, e.g. "birth_date"
	Column    string   // header name, or 1-based column number without a header
	Columns   []string // concatenated with Separator, empty parts left out
	Separator string
	Value     string // a constant, when HasValue
	HasValue  bool
	Type      ColumnType // "" is string for text fields and date or datetime for the others
	Layouts   []string   // for date and datetime, tried in order
	Required  bool       // an empty value rejects the row
	Default   string     // used when the value is empty after the transforms
	// Transforms apply in order to the text before it is typed.
	Transforms []Transform

	Pos Pos
}

// Transform ops.
const (
	OpTrim   = "trim"   // remove leading and trailing white space
	OpUpper  = "upper"  // to upper case
	OpLower  = "lower"  // to lower case
	OpMap    = "map"    // look the value up in Table
	OpRegexp = "regexp" // keep the first submatch of Pattern (the whole match without groups)
)

// Transform is one step applied to a field's text. A value that Map does
// not list, or that Regexp does not match, becomes Other when HasOther;
// otherwise the row is rejected. An empty value passes Map and Regexp
// unchanged unless the table lists "" or the pattern matches it.
type Transform struct {
	Op       string
	Table    map[string]string // for map
	Pattern  string            // for regexp (RE2 syntax)
	Other    string
	HasOther bool

	Pos Pos
}

// LoadMapping reads and checks the mapping file at path. Errors name the
// file and the line.
func LoadMapping(path string) (*Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	defer f.Close()
	m, err := ParseMapping(f)
	if err != nil {
		return nil, setFile(err, path)
	}
	return m, nil
}

// setFile names path in every *MappingError within err.
func setFile(err error, path string) error {
	var me *MappingError
	if errors.As(err, &me) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				if errors.As(e, &me) {
					me.File = path
				}
			}
			return err
		}
		me.File = path
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// ParseMapping reads a mapping from YAML and checks it. Errors are
// *MappingError values naming the YAML line and column, joined (see
// errors.Join) when there are several.
func ParseMapping(r io.Reader) (*Mapping, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxMappingBytes+1))
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	if len(data) > MaxMappingBytes {
		return nil, &MappingError{Err: ErrMappingSyntax, Msg: fmt.Sprintf("larger than %d bytes", MaxMappingBytes)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &MappingError{Err: ErrMappingSyntax, Msg: "empty document"}
		}
		line, msg := yamlMessage(err)
		return nil, &MappingError{Line: line, Err: ErrMappingSyntax, Msg: msg}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, &MappingError{Line: extra.Line, Column: extra.Column, Err: ErrMappingSyntax, Msg: "more than one YAML document"}
	}
	p := &yamlParser{}
	m := p.mapping(&doc)
	if len(p.errs) == 0 {
		p.errs = m.validate()
	}
	if len(p.errs) > 0 {
		return nil, joinErrs(p.errs)
	}
	return m, nil
}

// yamlMessage takes the line out of a yaml.v3 syntax error
// ("yaml: line 3: did not find expected key").
func yamlMessage(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return line, after
			}
		}
	}
	return 0, msg
}

// joinErrs returns the only error, or the errors joined; at most 20 are kept.
func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	if len(errs) > 20 {
		errs = append(errs[:20:20], fmt.Errorf("and %d more errors", len(errs)-20))
	}
	return errors.Join(errs...)
}

type yamlParser struct {
	errs []error
}

func (p *yamlParser) fail(n *yaml.Node, path string, sentinel error, format string, args ...any) {
	e := &MappingError{Path: path, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// pairs returns the key/value pairs of a mapping node, checking for
// aliases, duplicate keys and keys outside allowed (nil allows any).
func (p *yamlParser) pairs(n *yaml.Node, path string, allowed ...string) [][2]*yaml.Node {
	if n.Kind == yaml.AliasNode {
		p.fail(n, path, ErrMappingSyntax, "YAML aliases are not accepted")
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, ErrMappingSyntax, "expected a mapping of keys to values")
		return nil
	}
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.fail(k, path, ErrMappingSyntax, "keys must be plain text")
			continue
		}
		if v.Kind == yaml.AliasNode {
			p.fail(v, join(path, k.Value), ErrMappingSyntax, "YAML aliases are not accepted")
			continue
		}
		if seen[k.Value] {
			p.fail(k, join(path, k.Value), ErrInvalid, "key given twice")
			continue
		}
		seen[k.Value] = true
		if allowed != nil && !contains(allowed, k.Value) {
			p.fail(k, join(path, k.Value), ErrUnknownKey, "expected one of %s", strings.Join(allowed, ", "))
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scalar returns the text of a scalar node; a YAML null is "".
func (p *yamlParser) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, path, ErrMappingSyntax, "expected a single value")
		return "", false
	}
	if n.ShortTag() == "!!null" {
		return "", true
	}
	return n.Value, true
}

func (p *yamlParser) boolean(n *yaml.Node, path string) bool {
	s, ok := p.scalar(n, path)
	if !ok {
		return false
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(n, path, ErrInvalid, "expected true or false")
	return false
}

// strings reads a sequence of scalars, or one scalar as a sequence of one.
func (p *yamlParser) strings(n *yaml.Node, path string) []string {
	if n.Kind == yaml.ScalarNode {
		s, _ := p.scalar(n, path)
		return []string{s}
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, ErrMappingSyntax, "expected a list")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		s, ok := p.scalar(c, fmt.Sprintf("%s[%d]", path, i))
		if ok {
			out = append(out, s)
		}
	}
	return out
}

func pos(n *yaml.Node) Pos { return Pos{n.Line, n.Column} }

func (p *yamlParser) mapping(doc *yaml.Node) *Mapping {
	m := &Mapping{Format: Format{Delimiter: ',', Quote: '"', Header: true}, pos: map[string]Pos{}}
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	m.pos[""] = pos(root)
	var haveName, haveEntity, haveFields bool
	for _, kv := range p.pairs(root, "", "name", "entity", "format", "key", "watermark", "empty", "fields") {
		k, v := kv[0], kv[1]
		m.pos[k.Value] = pos(v)
		switch k.Value {
		case "name":
			m.Name, _ = p.scalar(v, "name")
			haveName = true
		case "entity":
			s, _ := p.scalar(v, "entity")
			m.Entity = Entity(s)
			haveEntity = true
		case "format":
			p.format(v, m)
		case "key":
			m.Key = p.strings(v, "key")
		case "watermark":
			m.Watermark, _ = p.scalar(v, "watermark")
		case "empty":
			s, _ := p.scalar(v, "empty")
			m.Empty = EmptyRule(s) // checked by compile
		case "fields":
			haveFields = true
			for _, fkv := range p.pairs(v, "fields") {
				m.Fields = append(m.Fields, p.field(fkv[0], fkv[1]))
			}
		}
	}
	if root.Kind == yaml.MappingNode {
		for _, miss := range []struct {
			have bool
			key  string
		}{{haveName, "name"}, {haveEntity, "entity"}, {haveFields, "fields"}} {
			if !miss.have {
				p.fail(root, miss.key, ErrMissing, "every mapping needs %s", miss.key)
			}
		}
	}
	return m
}

func (p *yamlParser) format(n *yaml.Node, m *Mapping) {
	for _, kv := range p.pairs(n, "format", "delimiter", "quote", "header", "encoding", "timezone", "columns") {
		k, v := kv[0], kv[1]
		path := "format." + k.Value
		m.pos[path] = pos(v)
		s, ok := p.scalar(v, path)
		if !ok {
			continue
		}
		switch k.Value {
		case "delimiter":
			if d, ok := delimiterNames[s]; ok {
				m.Format.Delimiter = d
			} else if len(s) == 1 {
				m.Format.Delimiter = s[0]
			} else {
				p.fail(v, path, ErrInvalid, "expected comma, tab, pipe, semicolon or one ASCII character")
			}
		case "quote":
			switch {
			case s == "none":
				m.Format.Quote = 0
			case len(s) == 1:
				m.Format.Quote = s[0]
			default:
				p.fail(v, path, ErrInvalid, `expected one ASCII character, such as '"', or none`)
			}
		case "header":
			m.Format.Header = p.boolean(v, path)
		case "encoding":
			e, ok := encodingNames[strings.ToLower(s)]
			if !ok {
				p.fail(v, path, ErrInvalid, "expected utf-8, iso-8859-1 or windows-1252")
			}
			m.Format.Encoding = e
		case "timezone":
			m.Format.Timezone = s
		case "columns":
			c, err := strconv.Atoi(s)
			if err != nil || c < 1 || c > MaxFields {
				p.fail(v, path, ErrInvalid, "expected a number of columns from 1 to %d", MaxFields)
			}
			m.Format.Columns = c
		}
	}
}

func (p *yamlParser) field(k, v *yaml.Node) FieldMap {
	f := FieldMap{Field: k.Value, Pos: pos(k)}
	path := "fields." + k.Value
	if v.Kind == yaml.ScalarNode {
		// Short form: "mrn: PAT_MRN_ID" is "mrn: {column: PAT_MRN_ID}".
		f.Column, _ = p.scalar(v, path)
		return f
	}
	for _, kv := range p.pairs(v, path, "column", "columns", "separator", "value", "type", "layout", "layouts", "required", "default", "transforms") {
		key, val := kv[0], kv[1]
		kp := path + "." + key.Value
		switch key.Value {
		case "column":
			f.Column, _ = p.scalar(val, kp)
		case "columns":
			f.Columns = p.strings(val, kp)
		case "separator":
			f.Separator, _ = p.scalar(val, kp)
		case "value":
			f.Value, _ = p.scalar(val, kp)
			f.HasValue = true
		case "type":
			s, _ := p.scalar(val, kp)
			f.Type = ColumnType(s)
		case "layout", "layouts":
			if f.Layouts != nil {
				p.fail(key, kp, ErrInvalid, "give layout or layouts, not both")
			}
			f.Layouts = p.strings(val, kp)
		case "required":
			f.Required = p.boolean(val, kp)
		case "default":
			f.Default, _ = p.scalar(val, kp)
		case "transforms":
			if val.Kind != yaml.SequenceNode {
				p.fail(val, kp, ErrMappingSyntax, "expected a list of transforms")
				continue
			}
			for i, t := range val.Content {
				f.Transforms = append(f.Transforms, p.transform(t, fmt.Sprintf("%s[%d]", kp, i)))
			}
		}
	}
	return f
}

func (p *yamlParser) transform(n *yaml.Node, path string) Transform {
	t := Transform{Pos: pos(n)}
	if n.Kind == yaml.ScalarNode {
		t.Op, _ = p.scalar(n, path)
		return t
	}
	for _, kv := range p.pairs(n, path, "map", "regexp", "other") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "map":
			if t.Op != "" {
				p.fail(k, path, ErrInvalid, "one transform per list item")
			}
			t.Op = OpMap
			t.Table = map[string]string{}
			for _, e := range p.pairs(v, path+".map") {
				from, _ := p.scalar(e[0], path+".map")
				to, _ := p.scalar(e[1], path+".map."+from)
				t.Table[from] = to
			}
		case "regexp":
			if t.Op != "" {
				p.fail(k, path, ErrInvalid, "one transform per list item")
			}
			t.Op = OpRegexp
			t.Pattern, _ = p.scalar(v, path+".regexp")
		case "other":
			t.Other, _ = p.scalar(v, path+".other")
			t.HasOther = true
		}
	}
	if t.Op == "" {
		p.fail(n, path, ErrMissing, "a transform item with keys needs map or regexp")
	}
	return t
}
