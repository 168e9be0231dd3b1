package center

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Views of the items.
const (
	ViewExplore   = "explore"   // apps one can have, installed or not
	ViewInstalled = "installed" // apps and runtimes installed
	ViewUpdates   = "updates"   // what has an update, the OS included
)

// Query selects a page of items.
type Query struct {
	View     string
	Text     string // every word must match
	Category string
	Offset   int
	Limit    int // 0: all
}

// Page is a query's answer.
type Page struct {
	Items      []*Item `json:"items"`
	Total      int     `json:"total"`
	Categories []Count `json:"categories"`
}

// Count is how many items of a view have a category.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Items answers a query from every backend's list. Search is a scan over
// folded text made once per item: a catalogue of thousands answers in well
// under a millisecond, which no index would improve on enough to pay for.
func (c *Center) Items(ctx context.Context, q Query) (*Page, error) {
	var all []*Item
	for _, b := range c.backends {
		items, err := b.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		all = append(all, items...)
	}
	words := strings.Fields(strings.ToLower(q.Text))
	cats := map[string]int{}
	type hit struct {
		it   *Item
		rank int
	}
	var hits []hit
	for _, it := range all {
		if !inView(it, q.View) {
			continue
		}
		rank, ok := it.match(words)
		if !ok {
			continue
		}
		for _, cat := range it.Categories {
			cats[cat]++
		}
		if q.Category != "" && !contains(it.Categories, q.Category) {
			continue
		}
		hits = append(hits, hit{it, rank})
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].rank != hits[j].rank {
			return hits[i].rank < hits[j].rank
		}
		a, b := strings.ToLower(hits[i].it.Name), strings.ToLower(hits[j].it.Name)
		if a != b {
			return a < b
		}
		return hits[i].it.ID < hits[j].it.ID
	})
	p := &Page{Total: len(hits), Items: []*Item{}, Categories: []Count{}}
	for name, n := range cats {
		p.Categories = append(p.Categories, Count{name, n})
	}
	sort.Slice(p.Categories, func(i, j int) bool { return p.Categories[i].Name < p.Categories[j].Name })
	start := min(max(q.Offset, 0), len(hits))
	end := len(hits)
	if q.Limit > 0 {
		end = min(start+q.Limit, end)
	}
	for _, h := range hits[start:end] {
		p.Items = append(p.Items, h.it)
	}
	return p, nil
}

// Item returns one item with its details, and starts preparing its
// install when it is available (Preparer): a user who reads an item's
// details may well install it next.
func (c *Center) Item(ctx context.Context, id string) (*Item, error) {
	b, err := c.backend(id)
	if err != nil {
		return nil, err
	}
	it, err := b.Refine(ctx, id)
	if err == nil && it.State == Available {
		c.prepare(b, id)
	}
	return it, err
}

func inView(it *Item, view string) bool {
	switch view {
	case ViewInstalled:
		return it.Kind != "os" && (it.State == Installed || it.State == Updatable)
	case ViewUpdates:
		return it.State == Updatable
	default:
		return it.Kind == "app"
	}
}

// match reports whether every word is in the item's text, and how well it
// matches: 0 a name starting with the first word, 1 a name containing it,
// 2 anything else.
func (it *Item) match(words []string) (int, bool) {
	if len(words) == 0 {
		return 0, true
	}
	hay := it.haystack
	if hay == "" {
		hay = it.fold()
	}
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return 0, false
		}
	}
	name := strings.ToLower(it.Name)
	switch {
	case strings.HasPrefix(name, words[0]):
		return 0, true
	case strings.Contains(name, words[0]):
		return 1, true
	}
	return 2, true
}

// Fold prepares the item for search; a backend calls it once on an item
// it keeps, before the item is shared.
func (it *Item) Fold() { it.haystack = it.fold() }

func (it *Item) fold() string {
	return strings.ToLower(strings.Join(append([]string{it.Name, it.Summary, it.ID, it.Developer}, it.Keywords...), "\x00"))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
