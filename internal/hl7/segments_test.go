package hl7

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDTM(t *testing.T) {
	est := time.FixedZone("", -5*3600)
	cases := []struct {
		in   string
		t    time.Time
		p    Precision
		zone bool
	}{
		{"2024", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), PrecisionYear, false},
		{"202402", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), PrecisionMonth, false},
		{"20240229", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), PrecisionDay, false},
		{"2024022913", time.Date(2024, 2, 29, 13, 0, 0, 0, time.UTC), PrecisionHour, false},
		{"202402291305", time.Date(2024, 2, 29, 13, 5, 0, 0, time.UTC), PrecisionMinute, false},
		{"20240229130559", time.Date(2024, 2, 29, 13, 5, 59, 0, time.UTC), PrecisionSecond, false},
		{"20240229130559.1", time.Date(2024, 2, 29, 13, 5, 59, 100e6, time.UTC), PrecisionTenth, false},
		{"20240229130559.12", time.Date(2024, 2, 29, 13, 5, 59, 120e6, time.UTC), PrecisionHundredth, false},
		{"20240229130559.123", time.Date(2024, 2, 29, 13, 5, 59, 123e6, time.UTC), PrecisionMilli, false},
		{"20240229130559.1234-0500", time.Date(2024, 2, 29, 13, 5, 59, 123400e3, est), PrecisionTenthMilli, true},
		{"20120918173931-0500", time.Date(2012, 9, 18, 17, 39, 31, 0, est), PrecisionSecond, true},
		{"20240229+0000", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), PrecisionDay, true},
		{"202402291305+1345", time.Date(2024, 2, 29, 13, 5, 0, 0, time.FixedZone("", 13*3600+45*60)), PrecisionMinute, true},
	}
	for _, c := range cases {
		d, err := ParseDTM(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !d.Time.Equal(c.t) || d.Precision != c.p || d.HasZone != c.zone {
			t.Errorf("%s: %v %d %v, want %v %d %v", c.in, d.Time, d.Precision, d.HasZone, c.t, c.p, c.zone)
		}
		if d.String() != c.in {
			t.Errorf("%s written as %s", c.in, d.String())
		}
	}
	for _, in := range []string{"2024013", "20241301", "20240001", "20230229", "20240431", "2024013124", "202401311260",
		"20240131123060", "20240131.5", "20240131123045.", "20240131123045.12345", "20240131+05", "20240131+1500",
		"20240131+0560", "abc", "2024-01-31", "19940502161633.60.1", "1994050216163360", "196203520", " 2024", "2024\x00"} {
		if d, err := ParseDTM(in); !errors.Is(err, ErrDataType) {
			t.Errorf("%q: %v %v, want ErrDataType", in, d, err)
		} else if strings.Contains(err.Error(), in) && in != "" {
			t.Errorf("%q: error quotes the value: %v", in, err)
		}
	}
	if d, err := ParseDTM(""); err != nil || !d.IsZero() || d.String() != "" {
		t.Errorf("empty: %v %v", d, err)
	}
	// Without an offset, In reads the wall clock in the site's zone.
	d, _ := ParseDTM("202401311200")
	paris := time.FixedZone("CET", 3600)
	if got := d.In(paris); got.Hour() != 12 || got.Location() != paris {
		t.Errorf("In: %v", got)
	}
	d, _ = ParseDTM("202401311200-0500")
	if got := d.In(paris); !got.Equal(d.Time) {
		t.Errorf("In with offset: %v", got)
	}
}

func TestReadPIDPV1(t *testing.T) {
	m, err := Parse(fixture(t, "hapi_adt_a01_cr.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := m.PID()
	if err != nil {
		t.Fatal(err)
	}
	if len(pid.Identifiers) != 1 || pid.Identifiers[0].ID != "2216506" || pid.ExternalID.ID != "9999999999" {
		t.Errorf("identifiers %+v %+v", pid.Identifiers, pid.ExternalID)
	}
	if len(pid.Names) != 1 || pid.Names[0] != (XPN{Family: "Duck", Given: "Donald", Prefix: "MR.", Degree: "MR."}) {
		t.Errorf("names %+v", pid.Names)
	}
	if pid.BirthDate.String() != "19720227" || pid.BirthDate.Precision != PrecisionDay || pid.Sex != "M" || pid.Account.ID != "211004554" {
		t.Errorf("PID %+v", pid)
	}
	pv1, err := m.PV1()
	if err != nil {
		t.Fatal(err)
	}
	if pv1.Location.PointOfCare != "ZFAST TRACK" || pv1.Location.Room != "WAITING" || pv1.Location.Bed != "13" ||
		pv1.AdmissionType != "E" || pv1.VisitNumber.ID != "211004554" || pv1.AdmitTime.String() != "200105231927" ||
		pv1.HospitalService != "SUR" || len(pv1.Attending) != 1 || pv1.Attending[0].Family != "MOUSE" {
		t.Errorf("PV1 %+v", pv1)
	}

	m, err = Parse(fixture(t, "hapi_adt_a03_lf.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ = m.PID()
	want := []CX{
		{ID: "5520255", AssigningAuthority: HD{Namespace: "PK"}, TypeCode: "PK"},
		{ID: "ZZZZZZ83M64Z148R", AssigningAuthority: HD{Namespace: "CF"}, TypeCode: "CF"},
		{ID: "ZZZZZZ83M64Z148R", AssigningAuthority: HD{Namespace: "SSN"}, TypeCode: "SSN"},
		{TypeCode: "TEAM"},
	}
	if !reflect.DeepEqual(pid.Identifiers, want) {
		t.Errorf("PID-3 %+v", pid.Identifiers)
	}
	pv1, _ = m.PV1()
	if pv1.Class != "I" || pv1.DischargeTime.String() != "200803031508" || pv1.Location.Facility.Namespace != "" ||
		pv1.Location.Description != "MED. 1 - ONCOLOGIA" || pv1.VisitNumber.ID != "2008003369" {
		t.Errorf("PV1 %+v", pv1)
	}

	// A bad birth date: the rest is read, the error names PID-7.
	m, err = Parse(fixture(t, "python-hl7_sample_hl7.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err = m.PID()
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrDataType) || pe.Location.String() != "PID-7" || pe.Segment != 2 {
		t.Errorf("PID-7 196203520: %v", err)
	}
	if pid.Names[0].Family != "EVERYWOMAN" || !pid.BirthDate.IsZero() || pid.Sex != "F" {
		t.Errorf("PID %+v", pid)
	}
	if ae := AckErrorFor(err); ae.Code != CodeDataType || ae.Location.Field != 7 || strings.Contains(ae.Message, "196203520") {
		t.Errorf("ack error %+v", ae)
	}
	// Absent and wrong segments.
	if _, err := m.PV1(); !errors.Is(err, ErrNoSegment) {
		t.Errorf("no PV1: %v", err)
	}
	if _, err := ReadPID(m.First("OBX")); !errors.Is(err, ErrSegment) {
		t.Errorf("OBX as PID: %v", err)
	}
}

func TestReadMRG(t *testing.T) {
	m, err := NewMessage(Header{Type: MessageType{"ADT", "A40", "ADT_A39"}, ControlID: "1", ProcessingID: "P", Version: "2.5"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]string{
		{"PID-3.1", "MRN-KEEP"}, {"PID-3.4", "HOSP"}, {"PID-3.5", "MR"},
		{"MRG-1.1", "MRN-OLD"}, {"MRG-1.4", "HOSP"}, {"MRG-1.5", "MR"},
		{"MRG-1(2).1", "MRN-OLDER"}, {"MRG-1(2).5", "MR"}, {"MRG-3", "ACC-OLD"}, {"MRG-5", "V-OLD"}, {"MRG-7.1", "Doe"}, {"MRG-7.2", "Jo"},
	} {
		if err := m.Set(s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	m, _ = Parse(m.Bytes())
	mrg, err := m.MRG()
	if err != nil {
		t.Fatal(err)
	}
	want := MRG{
		PriorIdentifiers: []CX{{ID: "MRN-OLD", AssigningAuthority: HD{Namespace: "HOSP"}, TypeCode: "MR"}, {ID: "MRN-OLDER", TypeCode: "MR"}},
		PriorAccount:     CX{ID: "ACC-OLD"},
		PriorVisit:       CX{ID: "V-OLD"},
		PriorNames:       []XPN{{Family: "Doe", Given: "Jo"}},
	}
	if !reflect.DeepEqual(mrg, want) {
		t.Errorf("MRG %+v\nwant %+v", mrg, want)
	}
}

func TestOrders(t *testing.T) {
	m, err := Parse(fixture(t, "efferent_orm_o01_escapes_br_h_n_x.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	orders := m.Orders()
	if len(orders) != 1 || orders[0].ORC == nil || orders[0].OBR == nil || len(orders[0].Notes) != 2 {
		t.Fatalf("orders %+v", orders)
	}
	orc, err := ReadORC(orders[0].ORC)
	if err != nil || orc.Control != "NW" || orc.Placer.ID != "11777-60" || orc.TransactionTime.String() != "20170331171150" {
		t.Errorf("ORC %+v %v", orc, err)
	}
	obr, err := ReadOBR(orders[0].OBR)
	if err != nil || obr.Service != (CWE{Code: "4241", Text: "BRAZIL NUT (F18) IGE - 86003", System: "AllinaCodes"}) || obr.Placer.ID != "11777-60" {
		t.Errorf("OBR %+v %v", obr, err)
	}

	// OML^O21 with SPM (nHapi's first message).
	b, err := ParseBatch(fixture(t, "nhapi_oml_o21_7_messages_crlf.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	m = b.Messages()[0]
	orders = m.Orders()
	if len(orders) != 1 || len(orders[0].SPM) != 3 || len(orders[0].OBX) != 1 {
		t.Fatalf("OML orders %+v", orders)
	}
	spm, err := ReadSPM(orders[0].SPM[1])
	if err != nil || spm.PlacerID.ID != "123456782" || spm.FillerID.ID != "gastric" || spm.Type.Code != "SER" ||
		spm.CollectionTime.String() != "200309060755" {
		t.Errorf("SPM %+v %v", spm, err)
	}
	obx, err := ReadOBX(orders[0].OBX[0])
	if n, nerr := obx.Number(); err != nil || obx.ValueType != "NM" || n != 75 || nerr != nil || obx.Units.Code != "g" || obx.Status != "F" {
		t.Errorf("OBX %+v %v", obx, err)
	}
	obr, _ = ReadOBR(orders[0].OBR)
	orc, _ = ReadORC(orders[0].ORC)
	if orc.Placer != (EI{ID: "12345678", Namespace: "gastric"}) || orc.PlacerGroup.ID != "666" || obr.Service.Code != "82951" {
		t.Errorf("ORC %+v OBR %+v", orc, obr)
	}
	// hapi's ORU (messages.txt): three OBR, OBX glued onto the first by a
	// web page's line wrapping, which stay text inside the first OBR.
	bt, err := ParseBatch(stripComments(fixture(t, "hapi_messages_odd_encoding_chars.txt")))
	if err != nil {
		t.Fatal(err)
	}
	oru := bt.Messages()[0]
	if n := len(oru.Orders()); n != 3 {
		t.Errorf("%d orders in hapi's ORU", n)
	}
}

// TestGenomicOBX reads the OBX groups vcf2hl7v2 writes for variants
// (LOINC 69548-6, 48018-6, 53037-8 ...): alone they are not a message;
// after an MSH, PID and OBR they are an ORU^R01 whose values read by type.
func TestGenomicOBX(t *testing.T) {
	body := fixture(t, "vcf2hl7v2_obx_only_no_msh.txt")
	if _, err := Parse(body); !errors.Is(err, ErrNoMSH) {
		t.Fatalf("OBX alone: %v", err)
	}
	head := "MSH|^~\\&|VCF2HL7|LAB|EHR|HOSP|20240101||ORU^R01^ORU_R01|G1|P|2.5.1\r" +
		"PID|1||MRN1^^^HOSP^MR||Doe^Jane\r" +
		"OBR|1|P1|F1|81247-9^Master HL7 genetic variant reporting panel^LN\r"
	m, err := Parse(append([]byte(head), body...))
	if err != nil {
		t.Fatal(err)
	}
	orders := m.Orders()
	if len(orders) != 1 || len(orders[0].OBX) != 113 {
		t.Fatalf("%d orders, %d OBX", len(orders), len(orders[0].OBX))
	}
	var genes, significance, starts []string
	for _, s := range orders[0].OBX {
		o, err := ReadOBX(s)
		if err != nil {
			t.Fatal(err)
		}
		switch o.Observation.Code {
		case "48018-6":
			c := o.Values[0].CWE()
			genes = append(genes, c.Code+"/"+c.Text+"/"+c.System)
		case "53037-8":
			significance = append(significance, o.Values[0].String())
		case "81254-5":
			if o.ValueType != "NR" {
				t.Errorf("81254-5 has value type %s", o.ValueType)
			}
			starts = append(starts, o.Values[0].Component(1).String())
		}
		if o.Observation.System != "LN" && o.Observation.System != "UFMOLLRR" {
			t.Errorf("OBX %s: coding system %q", o.SetID, o.Observation.System)
		}
	}
	if len(genes) != 8 || genes[0] != "HGNC:0000/NoGene/HGNC" || significance[0] != "not specified" || starts[0] != "15" {
		t.Errorf("genes %v significance %v starts %v", genes, significance, starts)
	}
	first, _ := ReadOBX(orders[0].OBX[0])
	if first.Text() != "Positive" || first.SubID != "1" || first.ValueType != "TX" {
		t.Errorf("first OBX %+v", first)
	}
}

func TestOBXValues(t *testing.T) {
	m, err := Parse(msg(mshADT,
		`OBX|1|TX|T^Text^L||para one~para \T\ two\.br\end||||||F|||20240131120000+0100`,
		`OBX|2|NM|N^Num^L||-12.50|mmol/L^millimole per liter^UCUM|3.5-5.0|H~LL|||C`,
		`OBX|3|NM|N^Num^L||1e5`,
		`OBX|4|CWE|C^Coded^L||LA6683-2^Germline^LN~LA6684-0^Somatic^LN`,
		`OBX|5|SN|S^SN^L||>^100`,
		`OBX|6|NM|N||`,
		`OBX|7|ST|X||x||||||F|||2024023`,
	))
	if err != nil {
		t.Fatal(err)
	}
	obx := m.All("OBX")
	read := func(i int) OBX {
		o, err := ReadOBX(obx[i])
		if err != nil && i != 6 {
			t.Fatalf("OBX %d: %v", i+1, err)
		}
		return o
	}
	if o := read(0); o.Text() != "para one\npara & two\nend" || o.ObservationTime.String() != "20240131120000+0100" {
		t.Errorf("TX %q %v", o.Text(), o.ObservationTime)
	}
	o := read(1)
	if n, err := o.Number(); err != nil || n != -12.5 || o.Units.Text != "millimole per liter" || o.ReferenceRange != "3.5-5.0" ||
		!reflect.DeepEqual(o.Abnormal, []string{"H", "LL"}) || o.Status != "C" {
		t.Errorf("NM %v %v %+v", n, err, o)
	}
	for _, i := range []int{2, 5} {
		if _, err := read(i).Number(); !errors.Is(err, ErrDataType) {
			t.Errorf("OBX %d: %v, want ErrDataType", i+1, err)
		}
	}
	if o := read(3); len(o.Values) != 2 || o.Values[1].CWE() != (CWE{Code: "LA6684-0", Text: "Somatic", System: "LN"}) {
		t.Errorf("CWE %+v", o.Values)
	}
	if o := read(4); o.Values[0].Component(1).String() != ">" || o.Values[0].Component(2).String() != "100" {
		t.Errorf("SN %+v", o.Values)
	}
	_, err = ReadOBX(obx[6])
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Location.String() != "OBX[7]-14" || pe.Segment != 8 {
		t.Errorf("OBX-14 error: %v", err)
	}
}
