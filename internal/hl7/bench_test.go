package hl7

import (
	"bytes"
	"strings"
	"testing"
)

// oru50 is an ORU^R01 with 50 OBX: the first 50 genomic OBX segments of
// vcf2hl7v2's expected output after an MSH, PID, ORC and OBR.
func oru50(b *testing.B) []byte {
	lines := strings.Split(strings.TrimSpace(string(fixture(b, "vcf2hl7v2_obx_only_no_msh.txt"))), "\n")
	head := []string{
		`MSH|^~\&|CLINOMICS|LAB^1.2.3.4^ISO|EHR|HOSP|20240131093000+0100||ORU^R01^ORU_R01|MSG000123|P|2.5.1|||NE|AL||UNICODE UTF-8`,
		`PID|1||MRN12345^^^HOSP^MR~987654321^^^SSA^SS||Doe^Jane^Q^^^^L||19800101|F|||1 Main St^^Town^ST^12345`,
		`ORC|RE|PLC-1^EHR|FIL-1^LAB||CM||||20240131090000`,
		`OBR|1|PLC-1^EHR|FIL-1^LAB|81247-9^Master HL7 genetic variant reporting panel^LN|||20240130120000|||||||||1234^Smith^John|||||||20240131090000|||F`,
	}
	return []byte(strings.Join(append(head, lines[:50]...), "\r") + "\r")
}

// BenchmarkParseGet parses a message and reads what a mapping reads: the
// header, the patient and, for the ORU, every OBX's code and value.
func BenchmarkParseGet(b *testing.B) {
	adt := fixture(b, "hapi_adt_a01_cr.hl7")
	oru := oru50(b)
	b.Run("ADT_A01", func(b *testing.B) {
		b.SetBytes(int64(len(adt)))
		b.ReportAllocs()
		for b.Loop() {
			m, err := Parse(adt)
			if err != nil {
				b.Fatal(err)
			}
			if m.Get("MSH-9") != "ADT" || m.Get("MSH-9.2") != "A01" || m.Get("MSH-10") == "" ||
				m.Get("PID-3") != "2216506" || m.Get("PID-5") != "Duck" || m.Get("PID-5.2") != "Donald" ||
				m.Get("PID-7") == "" || m.Get("PID-8") != "M" || m.Get("PV1-19") == "" || m.Get("PV1-44") == "" {
				b.Fatal("wrong values")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("ORU_R01_50_OBX", func(b *testing.B) {
		b.SetBytes(int64(len(oru)))
		b.ReportAllocs()
		for b.Loop() {
			m, err := Parse(oru)
			if err != nil {
				b.Fatal(err)
			}
			if m.Get("MSH-9.2") != "R01" || m.Get("MSH-10") == "" || m.Get("PID-3") != "MRN12345" || m.Get("OBR-4") == "" {
				b.Fatal("wrong values")
			}
			n := 0
			for _, s := range m.segs {
				if s.ID() != "OBX" {
					continue
				}
				if s.Get("3.1") != "" {
					_ = s.Get("5")
					n++
				}
				_ = s.Get("2")
			}
			if n != 50 {
				b.Fatalf("%d OBX", n)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("ORU_R01_50_OBX_typed", func(b *testing.B) {
		b.SetBytes(int64(len(oru)))
		b.ReportAllocs()
		for b.Loop() {
			m, err := Parse(oru)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.PID(); err != nil {
				b.Fatal(err)
			}
			for _, o := range m.Orders() {
				ReadORC(o.ORC)
				ReadOBR(o.OBR)
				for _, s := range o.OBX {
					if _, err := ReadOBX(s); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("ORU_R01_50_OBX_write", func(b *testing.B) {
		m, err := Parse(oru)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(oru)))
		b.ReportAllocs()
		for b.Loop() {
			if !bytes.HasPrefix(m.Bytes(), []byte("MSH")) {
				b.Fatal("bad output")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("ACK", func(b *testing.B) {
		m, err := Parse(adt)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			Ack(m, AA, nil, ackNow, "A1").Bytes()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
