package extract

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits on a mapping.
const (
	MaxMapEntries    = 10_000 // entries in one map transform
	MaxPatternLength = 1_000  // bytes in one regexp transform
	MaxLayouts       = 20     // layouts of one field
	MaxKeyFields     = 4      // fields in a key
)

// Default layouts when a date or datetime field gives none.
var (
	defaultDateLayouts     = []string{"2006-01-02"}
	defaultDateTimeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"}
)

// plan is a checked mapping, ready to map rows.
type plan struct {
	m       *Mapping
	ent     *entityDef
	enc     Encoding
	delim   byte
	quote   byte
	loc     *time.Location
	fields  []*fieldPlan
	byField []*fieldPlan // by entity field index; nil when not mapped
	key     []int        // entity field indexes of the key
	wm      *fieldPlan   // the watermark's field; nil without a watermark
	updated int          // entity field index of updated_at
	columns []string     // columns the mapping reads, each once, in mapping order

	// clearable are the entity field indexes a row's empty value clears
	// (empty: clear), and clearSets[mask] the Clear of a row whose
	// clearable[i] are empty for each bit i of mask: made once, shared
	// by the records (capacity = length, so an append copies). Nil under
	// empty: keep.
	clearable []int
	clearSets [][]string

	// autoValueType: a result's value_type is not mapped, so it follows
	// the value column's type.
	autoValueType bool
	numericValue  bool
}

type srcKind uint8

const (
	srcColumn srcKind = iota
	srcConcat
	srcConst
)

type fieldPlan struct {
	idx        int
	def        fieldDef
	src        srcKind
	cols       []string
	colIdx     []int // positions in the row, set by bind
	sep        string
	constant   value
	transforms []transformPlan
	required   bool
	deflt      value
	typ        ColumnType
	layouts    []layoutPlan
	label      string // the column(s), for reasons: "BIRTH_DATE", "FIRST+MIDDLE"
	pos        Pos    // of the field in the mapping
	notParsed  string // the reason a date does not parse, e.g. "not a date in layout 2006-01-02"
}

type transformPlan struct {
	n        int // 1-based position among the field's transforms
	op       string
	table    map[string]string
	re       *regexp.Regexp
	other    string
	hasOther bool
}

type layoutPlan struct {
	layout string
	prec   Precision
	fast   []byte // fixed-width template (see fastTemplate); nil: time.ParseInLocation
}

// Validate checks the mapping as ParseMapping does; use it on a mapping
// built in Go.
func (m *Mapping) Validate() error {
	if errs := m.validate(); len(errs) > 0 {
		return joinErrs(errs)
	}
	return nil
}

func (m *Mapping) validate() []error {
	_, errs := compile(m)
	return errs
}

// compile checks m and builds its plan. Columns are bound to a file's
// header later, by bind.
func compile(m *Mapping) (*plan, []error) {
	var errs []error
	at := func(key string) Pos { return m.pos[key] }
	fail := func(p Pos, path string, sentinel error, format string, args ...any) {
		errs = append(errs, &MappingError{Line: p.Line, Column: p.Column, Path: path, Err: sentinel, Msg: fmt.Sprintf(format, args...)})
	}

	if m.Name == "" {
		fail(at("name"), "name", ErrMissing, "the source needs a name: its watermark is kept under it")
	} else if !validName(m.Name) {
		fail(at("name"), "name", ErrInvalid, "use up to 100 letters, digits, '_', '-' and '.'")
	}
	ent := entities[m.Entity]
	if ent == nil {
		fail(at("entity"), "entity", ErrInvalid, "expected patient, encounter or result")
		return nil, errs
	}
	p := &plan{m: m, ent: ent, enc: m.Format.Encoding, byField: make([]*fieldPlan, len(ent.fields))}
	if p.enc == "" {
		p.enc = UTF8
	}
	p.updated = ent.fieldIndex("updated_at")

	f := m.Format
	switch {
	case f.Delimiter == 0:
		f.Delimiter = ','
	case f.Delimiter >= 0x80 || f.Delimiter == '\r' || f.Delimiter == '\n' || f.Delimiter == 0:
		fail(at("format.delimiter"), "format.delimiter", ErrInvalid, "must be an ASCII character other than a line break")
	}
	if f.Quote != 0 && (f.Quote >= 0x80 || f.Quote == '\r' || f.Quote == '\n' || f.Quote == f.Delimiter) {
		fail(at("format.quote"), "format.quote", ErrInvalid, "must be an ASCII character other than a line break and the delimiter")
	}
	if _, ok := encodingNames[string(p.enc)]; !ok {
		fail(at("format.encoding"), "format.encoding", ErrInvalid, "expected utf-8, iso-8859-1 or windows-1252")
	}
	if f.Header && f.Columns != 0 {
		fail(at("format.columns"), "format.columns", ErrInvalid, "only for files without a header")
	}
	if f.Columns < 0 || f.Columns > MaxFields {
		fail(at("format.columns"), "format.columns", ErrInvalid, "expected a number of columns from 1 to %d", MaxFields)
	}
	if f.Timezone != "" {
		loc, err := time.LoadLocation(f.Timezone)
		if err != nil {
			fail(at("format.timezone"), "format.timezone", ErrInvalid, "not a time zone this machine knows (e.g. America/Chicago, UTC)")
		}
		p.loc = loc
	}
	p.delim, p.quote = f.Delimiter, f.Quote
	switch m.Empty {
	case "", EmptyKeep, EmptyClear:
	default:
		fail(at("empty"), "empty", ErrInvalid, "expected keep (an empty value keeps the stored one) or clear (it clears it)")
	}

	needZone := false
	seen := map[string]bool{}
	for i := range m.Fields {
		fm := &m.Fields[i]
		path := "fields." + fm.Field
		before := len(errs)
		idx := ent.fieldIndex(fm.Field)
		if idx < 0 {
			names := make([]string, len(ent.fields))
			for j, d := range ent.fields {
				names[j] = d.name
			}
			fail(fm.Pos, path, ErrUnknownKey, "a %s has no field %q; its fields are %s", m.Entity, fm.Field, strings.Join(names, ", "))
			continue
		}
		if seen[fm.Field] {
			fail(fm.Pos, path, ErrInvalid, "field mapped twice")
			continue
		}
		seen[fm.Field] = true
		fp := &fieldPlan{idx: idx, def: ent.fields[idx], required: fm.Required, typ: fm.Type, sep: fm.Separator, pos: fm.Pos}

		nsrc := 0
		if fm.Column != "" {
			nsrc++
			fp.src, fp.cols = srcColumn, []string{fm.Column}
		}
		if len(fm.Columns) > 0 {
			nsrc++
			fp.src, fp.cols = srcConcat, fm.Columns
		}
		if fm.HasValue {
			nsrc++
			fp.src = srcConst
		}
		switch {
		case nsrc == 0:
			fail(fm.Pos, path, ErrMissing, "give column, columns or value")
		case nsrc > 1:
			fail(fm.Pos, path, ErrInvalid, "give only one of column, columns and value")
		}
		if fm.Separator != "" && fp.src != srcConcat {
			fail(fm.Pos, path+".separator", ErrInvalid, "separator goes with columns")
		}
		for _, c := range fp.cols {
			if c == "" {
				fail(fm.Pos, path, ErrInvalid, "empty column name")
			} else if !f.Header {
				if n, err := strconv.Atoi(c); err != nil || n < 1 || n > MaxFields || (f.Columns > 0 && n > f.Columns) {
					fail(fm.Pos, path, ErrInvalid, "without a header, columns are numbered from 1 (up to format.columns)")
				}
			}
		}
		if fp.src == srcConcat && fp.def.kind != kindText {
			fail(fm.Pos, path+".columns", ErrInvalid, "only text fields can be concatenated")
		}
		fp.label = strings.Join(fp.cols, "+")

		// Type and layouts.
		switch fp.def.kind {
		case kindText:
			switch fp.typ {
			case "":
				fp.typ = TypeString
			case TypeString, TypeInt, TypeDecimal:
			case TypeDate, TypeDateTime:
				fail(fm.Pos, path+".type", ErrInvalid, "%s is a text field: use string, int or decimal", fm.Field)
			default:
				fail(fm.Pos, path+".type", ErrInvalid, "expected string, int, decimal, date or datetime")
			}
			if len(fm.Layouts) > 0 {
				fail(fm.Pos, path+".layouts", ErrInvalid, "layouts go with date and datetime")
			}
		case kindDate, kindTime:
			switch fp.typ {
			case "":
				fp.typ = TypeDate
				if fp.def.kind == kindTime {
					fp.typ = TypeDateTime
				}
			case TypeDate, TypeDateTime:
			default:
				fail(fm.Pos, path+".type", ErrInvalid, "%s holds a date: use date or datetime", fm.Field)
			}
			layouts := fm.Layouts
			if len(layouts) == 0 {
				layouts = defaultDateLayouts
				if fp.typ == TypeDateTime {
					layouts = defaultDateTimeLayouts
				}
			}
			if len(layouts) > MaxLayouts {
				fail(fm.Pos, path+".layouts", ErrTooLarge, "more than %d layouts", MaxLayouts)
				layouts = layouts[:MaxLayouts]
			}
			for j, l := range layouts {
				lp, msg := planLayout(l, fp.def.kind)
				if msg != "" {
					fail(fm.Pos, fmt.Sprintf("%s.layouts[%d]", path, j), ErrInvalid, "%s", msg)
					continue
				}
				fp.layouts = append(fp.layouts, lp)
			}
			what := "a date"
			if fp.typ == TypeDateTime {
				what = "a date and time"
			}
			names := make([]string, len(layouts))
			for j, l := range layouts {
				names[j] = l
			}
			if len(names) == 1 {
				fp.notParsed = fmt.Sprintf("not %s in layout %s", what, names[0])
			} else {
				fp.notParsed = fmt.Sprintf("not %s in layouts %s", what, strings.Join(names, ", "))
			}
			if fp.def.kind == kindTime && fp.src != srcConst {
				needZone = true
			}
		}

		// Transforms.
		if fp.src == srcConst && len(fm.Transforms) > 0 {
			fail(fm.Pos, path+".transforms", ErrInvalid, "transforms do not apply to a value")
		}
		for j, t := range fm.Transforms {
			tp := transformPlan{n: j + 1, op: t.Op, table: t.Table, other: t.Other, hasOther: t.HasOther}
			tpath := fmt.Sprintf("%s.transforms[%d]", path, j)
			tpos := t.Pos
			if tpos.Line == 0 {
				tpos = fm.Pos
			}
			switch t.Op {
			case OpTrim, OpUpper, OpLower:
				if t.HasOther {
					fail(tpos, tpath, ErrInvalid, "other goes with map and regexp")
				}
			case OpMap:
				if len(t.Table) == 0 {
					fail(tpos, tpath, ErrMissing, "the map lists no values")
				} else if len(t.Table) > MaxMapEntries {
					fail(tpos, tpath, ErrTooLarge, "more than %d entries", MaxMapEntries)
				}
			case OpRegexp:
				if len(t.Pattern) > MaxPatternLength {
					fail(tpos, tpath, ErrTooLarge, "pattern longer than %d bytes", MaxPatternLength)
					break
				}
				re, err := regexp.Compile(t.Pattern)
				if err != nil {
					fail(tpos, tpath, ErrInvalid, "%s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
					break
				}
				if re.NumSubexp() > 1 {
					fail(tpos, tpath, ErrInvalid, "use at most one capturing group; (?:...) groups without capturing")
				}
				tp.re = re
			default:
				fail(tpos, tpath, ErrInvalid, "expected trim, upper, lower, map or regexp")
			}
			fp.transforms = append(fp.transforms, tp)
		}

		if len(errs) > before {
			continue
		}
		// A constant and a default must be valid values themselves.
		if fm.HasValue && fm.Value != "" {
			v, rerr := p.typed(fp, fm.Value)
			if rerr != nil {
				fail(fm.Pos, path+".value", ErrInvalid, "%s", rerr.Msg)
			}
			fp.constant = v
		}
		if fm.Default != "" {
			v, rerr := p.typed(fp, fm.Default)
			if rerr != nil {
				fail(fm.Pos, path+".default", ErrInvalid, "%s", rerr.Msg)
			}
			fp.deflt = v
		}
		p.fields = append(p.fields, fp)
		p.byField[idx] = fp
	}
	if needZone && f.Timezone == "" {
		fail(at("format"), "format.timezone", ErrMissing, "times in extracts are local: name their zone, e.g. America/Chicago or UTC")
	}

	// Key.
	key := m.Key
	keyPath := "key"
	if key == nil {
		key = ent.defaultKey
		keyPath = "key (default " + strings.Join(key, ", ") + ")"
	}
	if len(key) == 0 {
		fail(at("key"), "key", ErrMissing, "name the fields that identify a record")
	}
	if len(key) > MaxKeyFields {
		fail(at("key"), "key", ErrTooLarge, "at most %d fields", MaxKeyFields)
		key = key[:MaxKeyFields]
	}
	for _, k := range key {
		idx := ent.fieldIndex(k)
		switch {
		case idx < 0:
			fail(at("key"), keyPath, ErrInvalid, "a %s has no field %q", m.Entity, k)
		case ent.fields[idx].kind != kindText:
			fail(at("key"), keyPath, ErrInvalid, "%s is not a text field", k)
		case containsInt(p.key, idx):
			fail(at("key"), keyPath, ErrInvalid, "%s listed twice", k)
		default:
			p.key = append(p.key, idx)
		}
	}
	for _, idx := range p.key {
		if p.byField[idx] == nil && !seen[ent.fields[idx].name] {
			fail(at("fields"), "fields."+ent.fields[idx].name, ErrMissing, "key field %s must be mapped", ent.fields[idx].name)
		}
	}
	for _, name := range ent.mustMap {
		if !seen[name] && !contains(key, name) {
			fail(at("fields"), "fields."+name, ErrMissing, "every %s mapping maps %s", m.Entity, name)
		}
	}

	// Watermark.
	if m.Watermark != "" {
		for _, fp := range p.fields {
			if fp.src == srcColumn && fp.cols[0] == m.Watermark && fp.def.kind == kindTime {
				if p.wm == nil || fp.idx == p.updated {
					p.wm = fp
				}
			}
		}
		if p.wm == nil {
			fail(at("watermark"), "watermark", ErrInvalid, "the watermark column must be the column of a date or time field, such as updated_at")
		}
	}

	// Key fields, the fields every mapping of the entity maps, and the
	// watermark are required on every row.
	for _, idx := range p.key {
		if fp := p.byField[idx]; fp != nil {
			fp.required = true
		}
	}
	for _, name := range ent.mustMap {
		if fp := p.byField[ent.fieldIndex(name)]; fp != nil {
			fp.required = true
		}
	}
	if p.wm != nil {
		p.wm.required = true
	}
	for _, fp := range p.fields {
		if fp.src == srcConst && fp.required && !fp.constant.set {
			fail(fp.pos, "fields."+fp.def.name+".value", ErrMissing, "%s is required: its value cannot be empty", fp.def.name)
		}
	}

	if m.Empty == EmptyClear {
		p.planClear()
	}

	if m.Entity == EntityResult {
		p.autoValueType = p.byField[rValueType] == nil
		if v := p.byField[rValue]; v != nil {
			p.numericValue = v.typ == TypeInt || v.typ == TypeDecimal
		}
	}

	for _, fp := range p.fields {
		for _, c := range fp.cols {
			if !contains(p.columns, c) {
				p.columns = append(p.columns, c)
			}
		}
	}
	return p, errs
}

// planClear works out what a row's empty values clear under empty:
// clear: the fields read from the file that the entity's records can
// clear (fieldDef.clears), not key fields, required fields or fields
// with a default (those are never empty), and the Clear of each set of
// them.
func (p *plan) planClear() {
	for _, fp := range p.fields {
		if fp.def.clears == "" || fp.src == srcConst || fp.required || fp.deflt.set || containsInt(p.key, fp.idx) {
			continue
		}
		p.clearable = append(p.clearable, fp.idx)
	}
	if len(p.clearable) == 0 {
		return
	}
	p.clearSets = make([][]string, 1<<len(p.clearable)) // entities have at most 4 such fields: 16 sets
	for mask := 1; mask < len(p.clearSets); mask++ {
		var names []string
		for bit, idx := range p.clearable {
			if mask&(1<<bit) != 0 {
				names = append(names, p.ent.fields[idx].clears)
			}
		}
		p.clearSets[mask] = names[:len(names):len(names)]
	}
}

// clearOf is the Clear of a row mapped into v: nil when nothing is
// cleared.
func (p *plan) clearOf(v []value) []string {
	if p.clearSets == nil {
		return nil
	}
	mask := 0
	for bit, idx := range p.clearable {
		if !v[idx].set {
			mask |= 1 << bit
		}
	}
	return p.clearSets[mask]
}

func containsInt(list []int, x int) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

func validName(s string) bool {
	if len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// planLayout checks a Go time layout and works out the precision it
// gives. The precision is found by formatting dates that differ only in
// their day (2001-02-03 and 2001-02-10), month (2001-03-03) or year
// (2007-02-03), all Saturdays, so a weekday in the layout changes nothing.
func planLayout(layout string, kind fieldKind) (layoutPlan, string) {
	lp := layoutPlan{layout: layout}
	if layout == "" {
		return lp, "empty layout"
	}
	base := time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC)
	f := base.Format(layout)
	hasDay := f != time.Date(2001, 2, 10, 0, 0, 0, 0, time.UTC).Format(layout)
	hasMonth := f != time.Date(2001, 3, 3, 0, 0, 0, 0, time.UTC).Format(layout)
	hasYear := f != time.Date(2007, 2, 3, 0, 0, 0, 0, time.UTC).Format(layout)
	switch {
	case !hasYear:
		return lp, "the layout has no year: layouts are Go reference layouts such as 2006-01-02 or 01/02/2006 15:04, not YYYY-MM-DD"
	case hasDay && !hasMonth:
		return lp, "the layout has a day but no month"
	case hasDay:
		lp.prec = PrecisionDay
	case hasMonth:
		lp.prec = PrecisionMonth
	default:
		lp.prec = PrecisionYear
	}
	if kind == kindTime && lp.prec != PrecisionDay {
		return lp, "a time field needs a layout with year, month and day"
	}
	if _, err := time.Parse(layout, f); err != nil {
		return lp, "the layout cannot read what it writes"
	}
	lp.fast = fastTemplate(layout)
	return lp, ""
}

// Template slots of fastTemplate.
const (
	slotYear   = 'Y'
	slotMonth  = 'M'
	slotDay    = 'D'
	slotHour   = 'h'
	slotMinute = 'm'
	slotSecond = 's'
)

// fastTemplate turns a layout made only of 2006, 01, 02, 15, 04, 05 and
// the separators - / : space and T into a fixed-width template, one byte
// per input byte: a slot letter for a digit, or the separator itself. Any
// other layout returns nil and is read by time.ParseInLocation. Values
// that fit the template read the same both ways (see TestFastLayouts);
// values that do not fit it go to time.ParseInLocation.
func fastTemplate(layout string) []byte {
	tokens := []struct {
		tok  string
		slot byte
	}{{"2006", slotYear}, {"01", slotMonth}, {"02", slotDay}, {"15", slotHour}, {"04", slotMinute}, {"05", slotSecond}}
	var t []byte
	seen := map[byte]bool{}
next:
	for i := 0; i < len(layout); {
		rest := layout[i:]
		for _, k := range tokens {
			if strings.HasPrefix(rest, k.tok) {
				if seen[k.slot] {
					return nil // a slot given twice: leave it to the time package
				}
				seen[k.slot] = true
				for range len(k.tok) {
					t = append(t, k.slot)
				}
				i += len(k.tok)
				continue next
			}
		}
		switch rest[0] {
		case '-', '/', ':', ' ', 'T':
			t = append(t, rest[0])
			i++
		default:
			return nil
		}
	}
	return t
}

// parseFast reads s by a fastTemplate in loc. ok is false when s does not
// fit the template or holds an impossible date; the caller then asks
// time.ParseInLocation, which decides.
func parseFast(tmpl []byte, s string, loc *time.Location) (time.Time, bool) {
	if len(s) != len(tmpl) {
		return time.Time{}, false
	}
	var year, month, day, hour, min, sec int
	month, day = 1, 1
	for i := 0; i < len(tmpl); i++ {
		c := s[i]
		slot := tmpl[i]
		if slot == '-' || slot == '/' || slot == ':' || slot == ' ' || slot == 'T' {
			if c != slot {
				return time.Time{}, false
			}
			continue
		}
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		d := int(c - '0')
		if i == 0 || tmpl[i-1] != slot { // the first digit of a slot
			switch slot {
			case slotMonth:
				month = 0
			case slotDay:
				day = 0
			}
		}
		switch slot {
		case slotYear:
			year = year*10 + d
		case slotMonth:
			month = month*10 + d
		case slotDay:
			day = day*10 + d
		case slotHour:
			hour = hour*10 + d
		case slotMinute:
			min = min*10 + d
		case slotSecond:
			sec = sec*10 + d
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, 0, loc), true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int((m-1)%7%2)
}

// apply runs a transform; ok is false when a map or regexp misses and
// there is no other.
func (t *transformPlan) apply(s string) (string, bool) {
	switch t.op {
	case OpTrim:
		return strings.TrimSpace(s), true
	case OpUpper:
		return strings.ToUpper(s), true
	case OpLower:
		return strings.ToLower(s), true
	case OpMap:
		if v, ok := t.table[s]; ok {
			return v, true
		}
		if s == "" {
			return s, true
		}
	case OpRegexp:
		if m := t.re.FindStringSubmatchIndex(s); m != nil {
			if len(m) >= 4 && m[2] >= 0 {
				return s[m[2]:m[3]], true
			}
			if len(m) >= 4 {
				return "", true // the group did not take part in the match
			}
			return s[m[0]:m[1]], true
		}
		if s == "" {
			return s, true
		}
	}
	if t.hasOther {
		return t.other, true
	}
	return s, false
}

func (t *transformPlan) missMsg() string {
	if t.op == OpMap {
		return fmt.Sprintf("value not listed in the map of transform %d", t.n)
	}
	return fmt.Sprintf("value does not match the pattern of transform %d", t.n)
}

// typed reads text as fp's type. Text is never empty here. Errors carry
// Err and Msg only; the caller adds the line and column.
func (p *plan) typed(fp *fieldPlan, text string) (value, *RowError) {
	switch fp.typ {
	case TypeString:
		if fp.def.codes != nil && !fp.def.codes.codes[text] {
			return value{}, &RowError{Err: ErrCode, Msg: fmt.Sprintf("not a code of %s: %s", fp.def.codes.table, fp.def.codes.list)}
		}
		return value{s: text, set: true}, nil
	case TypeInt:
		t := strings.TrimSpace(text)
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || !isInteger(t) {
			return value{}, &RowError{Err: ErrNumber, Msg: "not an integer"}
		}
		s := strconv.FormatInt(n, 10)
		if fp.def.codes != nil && !fp.def.codes.codes[s] {
			return value{}, &RowError{Err: ErrCode, Msg: fmt.Sprintf("not a code of %s: %s", fp.def.codes.table, fp.def.codes.list)}
		}
		return value{s: s, set: true}, nil
	case TypeDecimal:
		t := strings.TrimSpace(text)
		if !isDecimal(t) {
			return value{}, &RowError{Err: ErrNumber, Msg: "not a decimal number"}
		}
		return value{s: t, set: true}, nil
	}
	// date, datetime
	t := strings.TrimSpace(text)
	loc := p.loc
	if loc == nil {
		loc = time.UTC
	}
	for _, lp := range fp.layouts {
		var tm time.Time
		ok := false
		if lp.fast != nil {
			tm, ok = parseFast(lp.fast, t, loc)
		}
		if !ok {
			var err error
			tm, err = time.ParseInLocation(lp.layout, t, loc)
			ok = err == nil
		}
		if !ok {
			continue
		}
		if fp.def.kind == kindDate {
			return value{d: dateOf(tm, lp.prec), set: true}, nil
		}
		return value{t: tm, set: true}, nil
	}
	return value{}, &RowError{Err: ErrDate, Msg: fp.notParsed}
}

// isInteger: optional sign, 1 to 18 digits.
func isInteger(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDecimal: optional sign, digits, optional '.' and digits; at least one
// digit, at most 40 characters. No exponent, no thousands separators.
func isDecimal(s string) bool {
	if len(s) > 40 {
		return false
	}
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}
