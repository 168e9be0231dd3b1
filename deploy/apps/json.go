package apps

import (
	"encoding/json"
)

// changeJSON is Change as scripts read it: refs and commits as strings
// (a checksum is otherwise an array of 32 numbers).
type changeJSON struct {
	Ref            string   `json:"ref"`
	From           string   `json:"from"`
	To             string   `json:"to"`
	Warnings       []string `json:"warnings,omitempty"`
	NewPermissions []string `json:"new_permissions,omitempty"`
	Downloaded     bool     `json:"downloaded,omitempty"`
	Held           bool     `json:"held,omitempty"`
}

// MarshalJSON writes the ref and commits as strings ("" for none).
func (c Change) MarshalJSON() ([]byte, error) {
	return json.Marshal(changeJSON{Ref: c.Ref.String(), From: commitString(c.From), To: commitString(c.To),
		Warnings: c.Warnings, NewPermissions: c.NewPermissions, Downloaded: c.Downloaded, Held: c.Held()})
}

type updateJSON struct {
	Ref            string   `json:"ref"`
	Origin         string   `json:"origin"`
	From           string   `json:"from"`
	To             string   `json:"to"`
	NewPermissions []string `json:"new_permissions,omitempty"`
	Downloaded     bool     `json:"downloaded,omitempty"`
}

// MarshalJSON writes the ref and commits as strings.
func (u Update) MarshalJSON() ([]byte, error) {
	return json.Marshal(updateJSON{Ref: u.Ref.String(), Origin: u.Origin, From: commitString(u.From), To: commitString(u.To),
		NewPermissions: u.NewPermissions, Downloaded: u.Downloaded})
}

var _ json.Marshaler = Change{}
