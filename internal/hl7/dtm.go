package hl7

import (
	"strconv"
	"time"
)

// Precision is how much of a DTM was given.
type Precision uint8

const (
	PrecisionNone Precision = iota // empty
	PrecisionYear
	PrecisionMonth
	PrecisionDay
	PrecisionHour
	PrecisionMinute
	PrecisionSecond
	PrecisionTenth      // .S
	PrecisionHundredth  // .SS
	PrecisionMilli      // .SSS
	PrecisionTenthMilli // .SSSS
)

// DTM is an HL7 date/time, YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ],
// with the precision it was given at. (DT and the first component of TS
// are read the same way.)
type DTM struct {
	// Time is the instant. Parts beyond the precision are zero (month and
	// day 1). Without an offset the sender's zone is unknown: the wall
	// clock is kept in UTC and HasZone is false (see In).
	Time      time.Time
	Precision Precision
	HasZone   bool
}

// IsZero reports whether the DTM is empty.
func (d DTM) IsZero() bool { return d.Precision == PrecisionNone }

// In returns the time, reading a DTM without an offset as wall-clock time
// in loc (the sender's zone, which the site knows and the message does
// not).
func (d DTM) In(loc *time.Location) time.Time {
	if d.HasZone || d.IsZero() {
		return d.Time
	}
	t := d.Time
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}

// DTMOf returns t at the given precision, with its zone offset.
func DTMOf(t time.Time, p Precision) DTM {
	return DTM{Time: t, Precision: p, HasZone: true}
}

// String formats the DTM at its precision, with the offset when it has
// one: "20240131", "20240131093000.120+0100".
func (d DTM) String() string {
	if d.IsZero() {
		return ""
	}
	layouts := [...]string{"", "2006", "200601", "20060102", "2006010215", "200601021504", "20060102150405",
		"20060102150405.0", "20060102150405.00", "20060102150405.000", "20060102150405.0000"}
	p := min(d.Precision, PrecisionTenthMilli)
	s := d.Time.Format(layouts[p])
	if d.HasZone {
		s += d.Time.Format("-0700")
	}
	return s
}

// ParseDTM parses an HL7 date/time. Errors wrap ErrDataType and do not
// quote the text.
func ParseDTM(s string) (DTM, error) {
	bad := func(why string) (DTM, error) { return DTM{}, because(ErrDataType, why) }
	if s == "" {
		return DTM{}, nil
	}
	body, zone := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '+' || s[i] == '-' {
			body, zone = s[:i], s[i:]
			break
		}
	}
	date, frac := body, ""
	for i := 0; i < len(body); i++ {
		if body[i] == '.' {
			date, frac = body[:i], body[i+1:]
			break
		}
	}
	if !digits(date) || !digits(frac) {
		return bad("a date/time is digits: YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]")
	}
	var p Precision
	switch len(date) {
	case 4:
		p = PrecisionYear
	case 6:
		p = PrecisionMonth
	case 8:
		p = PrecisionDay
	case 10:
		p = PrecisionHour
	case 12:
		p = PrecisionMinute
	case 14:
		p = PrecisionSecond
	default:
		return bad("a date/time has 4, 6, 8, 10, 12 or 14 digits before any fraction")
	}
	if len(frac) > 0 || len(body) > len(date) {
		if p != PrecisionSecond || len(frac) == 0 || len(frac) > 4 {
			return bad("fractions of a second need the seconds and 1 to 4 digits")
		}
		p = PrecisionSecond + Precision(len(frac))
	}
	num := func(i, n int) int { v, _ := strconv.Atoi(date[i : i+n]); return v }
	year, month, day, hour, minute, sec := num(0, 4), 1, 1, 0, 0, 0
	if p >= PrecisionMonth {
		month = num(4, 2)
	}
	if p >= PrecisionDay {
		day = num(6, 2)
	}
	if p >= PrecisionHour {
		hour = num(8, 2)
	}
	if p >= PrecisionMinute {
		minute = num(10, 2)
	}
	if p >= PrecisionSecond {
		sec = num(12, 2)
	}
	nsec := 0
	if frac != "" {
		v, _ := strconv.Atoi(frac)
		for k := len(frac); k < 9; k++ {
			v *= 10
		}
		nsec = v
	}
	switch {
	case month < 1 || month > 12:
		return bad("month out of range")
	case day < 1 || day > daysIn(year, month):
		return bad("day out of range")
	case hour > 23:
		return bad("hour out of range")
	case minute > 59:
		return bad("minute out of range")
	case sec > 59:
		return bad("second out of range")
	}
	loc := time.UTC
	d := DTM{Precision: p}
	if zone != "" {
		if len(zone) != 5 || !digits(zone[1:]) {
			return bad("a time zone offset is +HHMM or -HHMM")
		}
		zh, _ := strconv.Atoi(zone[1:3])
		zm, _ := strconv.Atoi(zone[3:5])
		if zh > 14 || zm > 59 {
			return bad("time zone offset out of range")
		}
		off := zh*3600 + zm*60
		if zone[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
		d.HasZone = true
	}
	d.Time = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	return d, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
