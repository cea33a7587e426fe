package ehr

import (
	"encoding/json"
	"net/url"
)

// The parts of the FHIR resources this package reads. Unknown members are
// ignored; nothing here is written back.

type meta struct {
	LastUpdated string `json:"lastUpdated"`
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
}

type identifier struct {
	Type   *codeableConcept `json:"type"`
	System string           `json:"system"`
	Value  string           `json:"value"`
}

type reference struct {
	Reference  string      `json:"reference"`
	Type       string      `json:"type"`
	Identifier *identifier `json:"identifier"`
	Display    string      `json:"display"`
}

type humanName struct {
	Use    string   `json:"use"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
}

// head is what every resource starts with.
type head struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         *meta  `json:"meta"`
}

type serviceRequest struct {
	head
	Contained  []json.RawMessage `json:"contained"`
	Identifier []identifier      `json:"identifier"`
	Status     string            `json:"status"`
	Intent     string            `json:"intent"`
	Category   []codeableConcept `json:"category"`
	Code       *codeableConcept  `json:"code"`
	Subject    *reference        `json:"subject"`
	AuthoredOn string            `json:"authoredOn"`
	Requester  *reference        `json:"requester"`
	Specimen   []reference       `json:"specimen"`
}

type patient struct {
	head
	Identifier       []identifier `json:"identifier"`
	Name             []humanName  `json:"name"`
	Gender           string       `json:"gender"`
	BirthDate        string       `json:"birthDate"`
	DeceasedDateTime string       `json:"deceasedDateTime"`
	DeceasedBoolean  *bool        `json:"deceasedBoolean"`
}

type specimen struct {
	head
	Identifier          []identifier     `json:"identifier"`
	AccessionIdentifier *identifier      `json:"accessionIdentifier"`
	Type                *codeableConcept `json:"type"`
}

// searchBundle is a searchset page.
type searchBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Search   *struct {
			Mode string `json:"mode"`
		} `json:"search"`
	} `json:"entry"`
}

// sortedBy reports whether the page's self link, which names the
// parameters the EHR applied, sorts by param (ascending).
func (b *searchBundle) sortedBy(param string) bool {
	for _, l := range b.Link {
		if l.Relation == "self" {
			u, err := url.Parse(l.URL)
			return err == nil && u.Query().Get("_sort") == param
		}
	}
	return false
}

func (b *searchBundle) next() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}
