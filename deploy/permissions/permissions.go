// Package permissions reads and changes the desktop's permission store
// (xdg-permission-store, on the session bus), where portals keep what the
// user let each app do: flatpak's permission-* commands, for arbor's apps.
package permissions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/godbus/dbus/v5"
)

const (
	busName   = "org.freedesktop.impl.portal.PermissionStore"
	objPath   = "/org/freedesktop/impl/portal/PermissionStore"
	iface     = busName
	errPrefix = "org.freedesktop.portal.Error."
)

// Store is a connection to the permission store.
type Store struct {
	conn *dbus.Conn
	obj  dbus.BusObject
}

// Connect connects to the session bus's permission store (started by
// the bus when it is not running).
func Connect(ctx context.Context) (*Store, error) {
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("the session bus: %w", err)
	}
	return &Store{conn: conn, obj: conn.Object(busName, objPath)}, nil
}

// Close ends the connection.
func (s *Store) Close() error { return s.conn.Close() }

func (s *Store) call(ctx context.Context, method string, args ...any) *dbus.Call {
	return s.obj.CallWithContext(ctx, iface+"."+method, 0, args...)
}

// ErrNotFound is a table or an entry the store does not have.
var ErrNotFound = errors.New("not found")

func storeErr(what string, err error) error {
	var de dbus.Error
	if errors.As(err, &de) && de.Name == errPrefix+"NotFound" {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Entry is one app's permissions on one object of a table.
type Entry struct {
	Table       string   `json:"table"`
	ID          string   `json:"id"`
	App         string   `json:"app"`
	Permissions []string `json:"permissions"`
	Data        string   `json:"data,omitempty"` // the entry's data, in GVariant text
}

// IDs lists a table's objects.
func (s *Store) IDs(ctx context.Context, table string) ([]string, error) {
	var ids []string
	if err := s.call(ctx, "List", table).Store(&ids); err != nil {
		return nil, storeErr("table "+table, err)
	}
	sort.Strings(ids)
	return ids, nil
}

// Lookup reads one object's entries, one per app, in app order.
func (s *Store) Lookup(ctx context.Context, table, id string) ([]Entry, error) {
	var perms map[string][]string
	var data dbus.Variant
	if err := s.call(ctx, "Lookup", table, id).Store(&perms, &data); err != nil {
		return nil, storeErr(table+" "+id, err)
	}
	text := ""
	if data.Signature().String() != "" {
		text = data.String()
	}
	var out []Entry
	for app, p := range perms {
		out = append(out, Entry{Table: table, ID: id, App: app, Permissions: p, Data: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out, nil
}

// Set gives app these permissions on table's object id, the table and
// the entry made when missing.
func (s *Store) Set(ctx context.Context, table, id, app string, perms []string) error {
	if perms == nil {
		perms = []string{}
	}
	if err := s.call(ctx, "SetPermission", table, true, id, app, perms).Err; err != nil {
		return storeErr(table+" "+id, err)
	}
	return nil
}

// Remove drops app's permissions on the object, or, with app "", the
// object's whole entry.
func (s *Store) Remove(ctx context.Context, table, id, app string) error {
	var err error
	if app == "" {
		err = s.call(ctx, "Delete", table, id).Err
	} else {
		err = s.call(ctx, "DeletePermission", table, id, app).Err
	}
	if err != nil {
		return storeErr(table+" "+id, err)
	}
	return nil
}

// Tables lists the tables the store keeps, from its database directory
// ($XDG_DATA_HOME/flatpak/db, as the store keeps it): the bus interface
// has no call that lists them.
func Tables() ([]string, error) {
	dir, err := dbDir()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func dbDir() (string, error) {
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "flatpak", "db"), nil
}

// All lists every entry of the tables given (all of them when none),
// those of app only when app is not "".
func (s *Store) All(ctx context.Context, tables []string, app string) ([]Entry, error) {
	if len(tables) == 0 {
		var err error
		if tables, err = Tables(); err != nil {
			return nil, err
		}
	}
	var out []Entry
	for _, t := range tables {
		ids, err := s.IDs(ctx, t)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			es, err := s.Lookup(ctx, t, id)
			if err != nil {
				return nil, err
			}
			for _, e := range es {
				if app == "" || e.App == app {
					out = append(out, e)
				}
			}
		}
	}
	return out, nil
}

// Reset removes app from every entry of every table.
func (s *Store) Reset(ctx context.Context, app string) (int, error) {
	es, err := s.All(ctx, nil, app)
	if err != nil {
		return 0, err
	}
	for _, e := range es {
		if err := s.Remove(ctx, e.Table, e.ID, app); err != nil {
			return 0, err
		}
	}
	return len(es), nil
}
