package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxResourceSize is the largest JSON input Parse accepts (a report bundle
// with an inline PDF is a few MB).
const MaxResourceSize = 64 << 20

// Parse decodes one resource from FHIR JSON, choosing its type by
// resourceType; a type this package does not model is returned as a
// *RawResource. Every member not modelled is kept (see Extra), so
// Marshal(Parse(data)) is the same JSON tree as data. Errors are *Issue:
// ErrSyntax (with the byte offset, line and column), ErrTooLarge,
// ErrResourceType, ErrType (with the location of the element).
func Parse(data []byte) (Resource, error) {
	m, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	return parseObject("", m)
}

// Unmarshal decodes FHIR JSON into r, which must be a pointer to one of
// this package's resource types; a different resourceType is an
// ErrResourceType error.
func Unmarshal(data []byte, r Resource) error {
	m, err := decodeObject(data)
	if err != nil {
		return err
	}
	return decodeInto("", m, r)
}

// Marshal encodes a resource as FHIR JSON: resourceType first, then the
// modelled members in the order of the specification, then the retained
// ones sorted by name. Empty members are left out.
func Marshal(r Resource) ([]byte, error) {
	e := &encoder{b: make([]byte, 0, 1024)}
	e.resource(r)
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

// MarshalIndent is Marshal with indentation, for files people read.
func MarshalIndent(r Resource, prefix, indent string) ([]byte, error) {
	b, err := Marshal(r)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, prefix, indent); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// newResource returns a new, empty resource of a modelled type, or nil.
func newResource(typ string) Resource {
	switch typ {
	case "Patient":
		return &Patient{}
	case "ServiceRequest":
		return &ServiceRequest{}
	case "Specimen":
		return &Specimen{}
	case "DiagnosticReport":
		return &DiagnosticReport{}
	case "Observation":
		return &Observation{}
	case "Bundle":
		return &Bundle{}
	case "Provenance":
		return &Provenance{}
	case "DocumentReference":
		return &DocumentReference{}
	case "Task":
		return &Task{}
	case "OperationOutcome":
		return &OperationOutcome{}
	case "CapabilityStatement":
		return &CapabilityStatement{}
	}
	return nil
}

// decodeObject reads data as one JSON object, numbers as json.Number.
func decodeObject(data []byte) (map[string]any, error) {
	if len(data) > MaxResourceSize {
		return nil, &Issue{Code: CodeTooLong, Err: ErrTooLarge,
			Message: "more than " + strconv.Itoa(MaxResourceSize) + " bytes"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxIssue(data, err, dec.InputOffset())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, syntaxIssue(data, errors.New("data after the resource"), dec.InputOffset())
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Issue{Code: CodeStructure, Err: ErrResourceType, Message: "a resource must be a JSON object"}
	}
	return m, nil
}

// syntaxIssue describes a JSON syntax error with its position: the
// 0-based byte offset of the offending byte (len(data) for a truncated
// input) and its 1-based line and column.
func syntaxIssue(data []byte, err error, offset int64) *Issue {
	var se *json.SyntaxError
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		offset = se.Offset - 1 // Offset counts the bytes read, the bad one included
		if offset < 0 {
			offset = 0
		}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		offset = int64(len(data))
		msg = "unexpected end of JSON input"
	}
	line, col := lineColumn(data, offset)
	return &Issue{Code: CodeInvalid, Err: ErrSyntax, Message: msg, Offset: offset, Line: line, Column: col}
}

// lineColumn returns the 1-based line and byte column of offset.
func lineColumn(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// validTypeName says whether s can be a resource type name.
func validTypeName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// resourceTypeOf reads the resourceType member of a resource at path.
func resourceTypeOf(path string, m map[string]any) (string, error) {
	where := "resourceType"
	if path != "" {
		where = path + ".resourceType"
	}
	v, ok := m["resourceType"]
	if !ok {
		return "", &Issue{Code: CodeRequired, Err: ErrResourceType, Expression: where, Message: "missing"}
	}
	s, ok := v.(string)
	if !ok || !validTypeName(s) {
		return "", &Issue{Code: CodeInvalid, Err: ErrResourceType, Expression: where, Message: "not a resource type name"}
	}
	return s, nil
}

// parseObject decodes a resource from its JSON object; path is where it
// is ("" at the top, "Bundle.entry[0].resource" inside a bundle).
func parseObject(path string, m map[string]any) (Resource, error) {
	typ, err := resourceTypeOf(path, m)
	if err != nil {
		return nil, err
	}
	r := newResource(typ)
	if r == nil {
		members := make(Extra, len(m))
		for k, v := range m {
			if k != "resourceType" {
				members[k] = v
			}
		}
		return &RawResource{Type: typ, Members: members}, nil
	}
	if err := decodeInto(path, m, r); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeInto decodes a resource object into r.
func decodeInto(path string, m map[string]any, r Resource) error {
	typ, err := resourceTypeOf(path, m)
	if err != nil {
		return err
	}
	if raw, ok := r.(*RawResource); ok {
		raw.Type, raw.Members = typ, make(Extra, len(m))
		for k, v := range m {
			if k != "resourceType" {
				raw.Members[k] = v
			}
		}
		return nil
	}
	if typ != r.ResourceType() {
		where := "resourceType"
		if path != "" {
			where = path + ".resourceType"
		}
		return &Issue{Code: CodeInvalid, Err: ErrResourceType, Expression: where,
			Message: "is " + typ + ", expected " + r.ResourceType()}
	}
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return &Issue{Code: CodeException, Err: ErrType, Message: "cannot decode into " + v.Type().String()}
	}
	if path == "" {
		path = typ
	}
	return decodeStruct(path, m, v.Elem(), true)
}

// Reflection metadata of the structs of this package.

type fieldInfo struct {
	name  string // JSON member name
	index []int  // for reflect.Value.FieldByIndex
}

type structInfo struct {
	fields []fieldInfo
	byName map[string]int
	extra  []int // index of the Extra field, nil when none
}

var (
	infoCache    sync.Map // reflect.Type -> *structInfo
	typeExtra    = reflect.TypeFor[Extra]()
	typeDecimal  = reflect.TypeFor[Decimal]()
	typeResource = reflect.TypeFor[Resource]()
	typeBoolPtr  = reflect.TypeFor[*bool]()
	typeInt64Ptr = reflect.TypeFor[*int64]()
)

func infoOf(t reflect.Type) *structInfo {
	if si, ok := infoCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]int{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			index := append(slices.Clone(prefix), i)
			switch {
			case f.Type == typeExtra:
				if si.extra == nil {
					si.extra = index
				}
			case f.Anonymous && f.Type.Kind() == reflect.Struct:
				walk(f.Type, index)
			default:
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "" || name == "-" || !f.IsExported() {
					continue
				}
				si.byName[name] = len(si.fields)
				si.fields = append(si.fields, fieldInfo{name: name, index: index})
			}
		}
	}
	walk(t, nil)
	v, _ := infoCache.LoadOrStore(t, si)
	return v.(*structInfo)
}

// decodeStruct fills the struct v from the object m; path is its location.
func decodeStruct(path string, m map[string]any, v reflect.Value, isResource bool) error {
	si := infoOf(v.Type())
	matched := 0
	var extra Extra
	for _, f := range si.fields {
		raw, ok := m[f.name]
		if !ok {
			continue
		}
		matched++
		keep, err := decodeValue(path+"."+f.name, raw, v.FieldByIndex(f.index))
		if err != nil {
			return err
		}
		if keep {
			if extra == nil {
				extra = Extra{}
			}
			extra[f.name] = raw
		}
	}
	if isResource {
		matched++ // resourceType
	}
	if matched < len(m) {
		if extra == nil {
			extra = make(Extra, len(m)-matched)
		}
		for k, raw := range m {
			if _, ok := si.byName[k]; !ok && !(isResource && k == "resourceType") {
				extra[k] = raw
			}
		}
	}
	if extra != nil && si.extra != nil {
		v.FieldByIndex(si.extra).Set(reflect.ValueOf(extra))
	}
	return nil
}

// jsonKind names the JSON type of a decoded value, for messages.
func jsonKind(raw any) string {
	switch raw.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unknown value"
}

func typeIssue(path, want string, raw any) error {
	return &Issue{Code: CodeStructure, Err: ErrType, Expression: path,
		Message: "expected " + want + ", found " + jsonKind(raw)}
}

// decodeValue decodes raw into v. keep reports a value the typed form
// cannot represent (null, "", [], {}, an array holding one of those),
// which the caller retains raw instead.
func decodeValue(path string, raw any, v reflect.Value) (keep bool, err error) {
	if raw == nil {
		return true, nil
	}
	t := v.Type()
	switch {
	case t == typeDecimal:
		n, ok := raw.(json.Number)
		if !ok {
			return false, typeIssue(path, "a number", raw)
		}
		v.SetString(string(n))
	case t.Kind() == reflect.String:
		s, ok := raw.(string)
		if !ok {
			return false, typeIssue(path, "a string", raw)
		}
		if s == "" {
			return true, nil
		}
		v.SetString(s)
	case t == typeBoolPtr:
		b, ok := raw.(bool)
		if !ok {
			return false, typeIssue(path, "a boolean", raw)
		}
		v.Set(reflect.ValueOf(&b))
	case t == typeInt64Ptr:
		n, ok := raw.(json.Number)
		if !ok {
			return false, typeIssue(path, "an integer", raw)
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return false, &Issue{Code: CodeValue, Err: ErrValue, Expression: path, Message: "not an integer"}
		}
		v.Set(reflect.ValueOf(&i))
	case t == typeResource:
		m, ok := raw.(map[string]any)
		if !ok {
			return false, typeIssue(path, "a resource (object)", raw)
		}
		r, err := parseObject(path, m)
		if err != nil {
			return false, err
		}
		v.Set(reflect.ValueOf(r))
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return false, typeIssue(path, "an object", raw)
		}
		if len(m) == 0 {
			return true, nil
		}
		p := reflect.New(t.Elem())
		if err := decodeStruct(path, m, p.Elem(), false); err != nil {
			return false, err
		}
		v.Set(p)
	case t.Kind() == reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return false, typeIssue(path, "an object", raw)
		}
		if len(m) == 0 {
			return true, nil
		}
		if err := decodeStruct(path, m, v, false); err != nil {
			return false, err
		}
	case t.Kind() == reflect.Slice:
		a, ok := raw.([]any)
		if !ok {
			return false, typeIssue(path, "an array", raw)
		}
		if len(a) == 0 {
			return true, nil
		}
		s := reflect.MakeSlice(t, len(a), len(a))
		for i, x := range a {
			keep, err := decodeValue(path+"["+strconv.Itoa(i)+"]", x, s.Index(i))
			if err != nil {
				return false, err
			}
			if keep {
				return true, nil
			}
		}
		v.Set(s)
	default:
		return false, &Issue{Code: CodeException, Err: ErrType, Expression: path, Message: "unsupported field type " + t.String()}
	}
	return false, nil
}

// encoder writes FHIR JSON; err is sticky.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *encoder) resource(r Resource) {
	if r == nil {
		e.b = append(e.b, "null"...)
		return
	}
	if raw, ok := r.(*RawResource); ok {
		e.b = append(e.b, `{"resourceType":`...)
		e.b = appendString(e.b, raw.Type)
		for _, k := range sortedKeys(raw.Members) {
			if k == "resourceType" {
				continue
			}
			e.b = append(e.b, ',')
			e.b = appendString(e.b, k)
			e.b = append(e.b, ':')
			e.any(raw.Members[k])
		}
		e.b = append(e.b, '}')
		return
	}
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		e.fail(errors.New("fhir: cannot encode a nil " + r.ResourceType()))
		e.b = append(e.b, "null"...)
		return
	}
	e.structValue(v.Elem(), r.ResourceType())
}

// structValue writes a struct as an object, with resourceType first when
// rt is not "".
func (e *encoder) structValue(v reflect.Value, rt string) {
	si := infoOf(v.Type())
	e.b = append(e.b, '{')
	n := 0
	if rt != "" {
		e.b = append(e.b, `"resourceType":`...)
		e.b = appendString(e.b, rt)
		n++
	}
	for _, f := range si.fields {
		fv := v.FieldByIndex(f.index)
		if isEmptyValue(fv) {
			continue
		}
		mark := len(e.b)
		if n > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, f.name)
		e.b = append(e.b, ':')
		start := len(e.b)
		e.value(fv)
		if s := e.b[start:]; len(s) == 2 && (s[0] == '{' || s[0] == '[') {
			e.b = e.b[:mark] // an element with nothing in it is left out
			continue
		}
		n++
	}
	if si.extra != nil {
		extra := v.FieldByIndex(si.extra).Interface().(Extra)
		for _, k := range sortedKeys(extra) {
			if i, ok := si.byName[k]; ok && !isEmptyValue(v.FieldByIndex(si.fields[i].index)) {
				continue
			}
			if rt != "" && k == "resourceType" {
				continue
			}
			if n > 0 {
				e.b = append(e.b, ',')
			}
			e.b = appendString(e.b, k)
			e.b = append(e.b, ':')
			e.any(extra[k])
			n++
		}
	}
	e.b = append(e.b, '}')
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return false
}

func (e *encoder) value(v reflect.Value) {
	t := v.Type()
	switch {
	case t == typeDecimal:
		s := v.String()
		if !validNumber(s) {
			e.fail(errors.New("fhir: decimal " + strconv.Quote(s) + " is not a JSON number"))
			s = "0"
		}
		e.b = append(e.b, s...)
	case t.Kind() == reflect.String:
		e.b = appendString(e.b, v.String())
	case t == typeBoolPtr:
		e.b = strconv.AppendBool(e.b, v.Elem().Bool())
	case t == typeInt64Ptr:
		e.b = strconv.AppendInt(e.b, v.Elem().Int(), 10)
	case t == typeResource:
		e.resource(v.Interface().(Resource))
	case t.Kind() == reflect.Pointer:
		e.structValue(v.Elem(), "")
	case t.Kind() == reflect.Struct:
		e.structValue(v, "")
	case t.Kind() == reflect.Slice:
		e.b = append(e.b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.value(v.Index(i))
		}
		e.b = append(e.b, ']')
	default:
		e.fail(errors.New("fhir: cannot encode " + t.String()))
	}
}

// any writes a retained JSON value.
func (e *encoder) any(x any) {
	switch x := x.(type) {
	case nil:
		e.b = append(e.b, "null"...)
	case string:
		e.b = appendString(e.b, x)
	case json.Number:
		if !validNumber(string(x)) {
			e.fail(errors.New("fhir: " + strconv.Quote(string(x)) + " is not a JSON number"))
			e.b = append(e.b, '0')
			return
		}
		e.b = append(e.b, x...)
	case bool:
		e.b = strconv.AppendBool(e.b, x)
	case map[string]any:
		e.b = append(e.b, '{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = appendString(e.b, k)
			e.b = append(e.b, ':')
			e.any(x[k])
		}
		e.b = append(e.b, '}')
	case Extra:
		e.any(map[string]any(x))
	case []any:
		e.b = append(e.b, '[')
		for i, y := range x {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.any(y)
		}
		e.b = append(e.b, ']')
	default:
		b, err := json.Marshal(x)
		if err != nil {
			e.fail(err)
			e.b = append(e.b, "null"...)
			return
		}
		e.b = append(e.b, b...)
	}
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// validNumber says whether s is a JSON number literal.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// marshalElement encodes a datatype (a pointer to its struct).
func marshalElement(x any) ([]byte, error) {
	e := &encoder{}
	e.structValue(reflect.ValueOf(x).Elem(), "")
	return e.b, e.err
}

// unmarshalElement decodes a datatype from JSON; path names it in errors.
func unmarshalElement(data []byte, path string, x any) error {
	m, err := decodeObject(data)
	if err != nil {
		var is *Issue
		if errors.As(err, &is) && is.Err == ErrResourceType {
			return &Issue{Code: CodeStructure, Err: ErrType, Expression: path, Message: "expected an object"}
		}
		return err
	}
	return decodeStruct(path, m, reflect.ValueOf(x).Elem(), false)
}
