// Package center is the software center's model: backends that list,
// refine, install, remove and update what a user can have (apps and
// runtimes, the OS), shaped like GNOME Software's plugin calls so that a
// new backend plugs in without touching the pages, and the jobs that run
// those calls with progress and cancel. The page and the CLI are views of
// it; it knows nothing of HTTP.
package center

import (
	"context"
	"errors"
	"fmt"
)

// Backend is one source of items. Every call that waits takes a context
// and stops when it ends.
type Backend interface {
	// Name prefixes the IDs of the backend's items ("apps", "os").
	Name() string
	// Refresh brings the backend's catalogue up to date (remotes' AppStream
	// data, the OS's origin).
	Refresh(ctx context.Context, p Progress) error
	// List returns every item the backend knows, in brief.
	List(ctx context.Context) ([]*Item, error)
	// Refine returns one item with its details (sizes, permissions).
	Refine(ctx context.Context, id string) (*Item, error)
	Install(ctx context.Context, id string, o Options, p Progress) (*Result, error)
	Remove(ctx context.Context, id string, p Progress) (*Result, error)
	// Update brings items to their newest version; no ids means all.
	Update(ctx context.Context, ids []string, o Options, p Progress) (*Result, error)
}

// Options qualify an install or update.
type Options struct {
	AllowPermissions bool // apply an update that asks for new permissions
	DownloadOnly     bool // fetch now, apply later
	Commit           string
	Index            int  // a deployment's index, for the OS's calls
	Pinned           bool // for pin
}

// Result is what a call changed, for the job that ran it.
type Result struct {
	// Held are the items left alone because they ask for new
	// permissions, with what they ask.
	Held     []Held   `json:"held,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Held is an update that was not applied.
type Held struct {
	ID             string       `json:"id"`
	NewPermissions []Permission `json:"new_permissions"`
}

// ErrUnsupported is returned by a backend for a call its items do not
// have (removing the OS).
var ErrUnsupported = errors.New("not supported")

// ErrNotFound names an item no backend has.
type ErrNotFound struct{ ID string }

func (e ErrNotFound) Error() string { return fmt.Sprintf("no item %q", e.ID) }

// Event is a step of a call in progress: what it is doing or waiting for,
// in words, and the counts it has.
type Event struct {
	Phase   string `json:"phase"`
	Message string `json:"message"`
	Objects int64  `json:"objects"`
	Fetched int64  `json:"fetched"`
	Bytes   int64  `json:"bytes"`
	Total   int64  `json:"total_bytes,omitempty"` // 0: unknown
}

// Progress receives events; it must not block.
type Progress func(Event)

// Item is an app, a runtime or an OS as the center shows it.
type Item struct {
	ID          string       `json:"id"`
	Backend     string       `json:"backend"`
	Kind        string       `json:"kind"` // app, runtime, os
	Name        string       `json:"name"`
	Summary     string       `json:"summary"`
	Description []Paragraph  `json:"description,omitempty"`
	Icon        string       `json:"icon"`
	Categories  []string     `json:"categories,omitempty"`
	Keywords    []string     `json:"-"`
	Developer   string       `json:"developer,omitempty"`
	License     string       `json:"license,omitempty"`
	Homepage    string       `json:"homepage,omitempty"`
	Version     string       `json:"version,omitempty"`
	Releases    []Release    `json:"releases,omitempty"`
	Screenshots []Screenshot `json:"screenshots,omitempty"`

	Remote string `json:"remote,omitempty"`
	Ref    string `json:"ref,omitempty"`
	Branch string `json:"branch,omitempty"`
	State  string `json:"state"` // available, installed, updatable

	InstalledCommit string `json:"installed_commit,omitempty"`
	AvailableCommit string `json:"available_commit,omitempty"`
	DownloadSize    uint64 `json:"download_size,omitempty"`
	InstalledSize   uint64 `json:"installed_size,omitempty"`
	Runtime         *Need  `json:"runtime,omitempty"`

	Permissions    []Permission `json:"permissions,omitempty"`
	Safety         string       `json:"safety,omitempty"`
	NewPermissions []Permission `json:"new_permissions,omitempty"`
	Downloaded     bool         `json:"downloaded,omitempty"` // an update fetched, to apply

	Actions      []string `json:"actions"`
	NeedsRestart bool     `json:"needs_restart,omitempty"`
	DiskBytes    uint64   `json:"disk_bytes,omitempty"`

	// haystack is what search matches, folded once.
	haystack string
}

// States of an item.
const (
	Available = "available"
	Installed = "installed"
	Updatable = "updatable"
)

// Need is what an app needs installed beside it.
type Need struct {
	Ref           string `json:"ref"`
	Remote        string `json:"remote,omitempty"`
	DownloadSize  uint64 `json:"download_size,omitempty"`
	InstalledSize uint64 `json:"installed_size,omitempty"`
	Installed     bool   `json:"installed"`
}

// Paragraph is a paragraph of a description, or a list.
type Paragraph struct {
	Text  string   `json:"text,omitempty"`
	Items []string `json:"items,omitempty"`
}

// Release is a version's notes.
type Release struct {
	Version     string      `json:"version"`
	Date        string      `json:"date,omitempty"`
	Description []Paragraph `json:"description,omitempty"`
}

// Screenshot is an image the app's metadata points at.
type Screenshot struct {
	URL     string `json:"url"`
	Caption string `json:"caption,omitempty"`
}

// Permission is something an app can reach, in words.
type Permission struct {
	ID     string `json:"id"`
	Label  string `json:"label"`
	Detail string `json:"detail,omitempty"`
	Level  string `json:"level"`
}
