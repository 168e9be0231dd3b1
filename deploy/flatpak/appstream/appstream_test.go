package appstream

import (
	"strings"
	"testing"
)

const doc = `<?xml version="1.0" encoding="UTF-8"?>
<components version="0.8" origin="flatpak">
  <component type="desktop-application">
    <id>org.example.Hello</id>
    <name>Hello</name>
    <name xml:lang="de">Hallo</name>
    <summary>Greets   the world</summary>
    <description>
      <p>Says <em>hello</em> to everyone.</p>
      <p xml:lang="de">Sagt hallo.</p>
      <ul><li>Fast</li><li>Friendly</li></ul>
    </description>
    <description xml:lang="fr"><p>Dit bonjour.</p></description>
    <icon type="cached" width="128" height="128">org.example.Hello.png</icon>
    <icon type="cached" width="64" height="64">org.example.Hello-64.png</icon>
    <icon type="remote">https://icons/hello.png</icon>
    <categories><category>Utility</category><category>GTK</category></categories>
    <keywords><keyword>greeting</keyword><keyword xml:lang="de">gruss</keyword></keywords>
    <developer_name>Old Name</developer_name>
    <developer id="org.example"><name>Example Developers</name></developer>
    <project_license>GPL-3.0-or-later</project_license>
    <url type="homepage">https://hello/</url>
    <releases>
      <release version="1.0" timestamp="1700000000"><description><p>First.</p></description></release>
      <release version="1.1" date="2024-05-01T00:00:00Z"><description><p>Second.</p></description></release>
    </releases>
    <screenshots>
      <screenshot type="default"><caption>Main window</caption><image type="thumbnail" width="224">https://s/t.png</image><image type="source">https://s/full.png</image></screenshot>
      <screenshot><image type="thumbnail" width="100">https://s/a.png</image><image type="thumbnail" width="600">https://s/b.png</image></screenshot>
    </screenshots>
    <bundle type="flatpak">app/org.example.Hello/x86_64/stable</bundle>
  </component>
  <component><id>org.example.Bare</id></component>
</components>`

func TestParse(t *testing.T) {
	cs, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d components", len(cs))
	}
	c := cs[0]
	checks := []struct{ what, got, want string }{
		{"name", c.Name, "Hello"},
		{"summary", c.Summary, "Greets the world"},
		{"bundle", c.Bundle, "app/org.example.Hello/x86_64/stable"},
		{"icon", c.Icon, "org.example.Hello-64.png"},
		{"remote icon", c.RemoteIcon, "https://icons/hello.png"},
		{"developer", c.Developer, "Example Developers"},
		{"license", c.License, "GPL-3.0-or-later"},
		{"homepage", c.Homepage, "https://hello/"},
		{"version", c.Version(), "1.1"},
		{"categories", strings.Join(c.Categories, ","), "Utility,GTK"},
		{"keywords", strings.Join(c.Keywords, ","), "greeting"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: %q, want %q", ch.what, ch.got, ch.want)
		}
	}
	if len(c.Description) != 2 || c.Description[0].Text != "Says hello to everyone." || strings.Join(c.Description[1].Items, "|") != "Fast|Friendly" {
		t.Errorf("description %+v", c.Description)
	}
	if len(c.Releases) != 2 || c.Releases[1].Date != "2023-11-14" || c.Releases[0].Date != "2024-05-01" || c.Releases[0].Description[0].Text != "Second." {
		t.Errorf("releases %+v", c.Releases)
	}
	if len(c.Screenshots) != 2 || c.Screenshots[0].URL != "https://s/full.png" || !c.Screenshots[0].Default ||
		c.Screenshots[0].Caption != "Main window" || c.Screenshots[1].URL != "https://s/b.png" {
		t.Errorf("screenshots %+v", c.Screenshots)
	}
	if !c.Matches("GREETING") || !c.Matches("example dev") || c.Matches("gruss") {
		t.Error("Matches")
	}
	if cs[1].Name != "" || cs[1].Version() != "" {
		t.Errorf("bare %+v", cs[1])
	}
}

func TestBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("<component><id>x</id><releases>")
	for i := 0; i < 1000; i++ {
		b.WriteString(`<release version="1"/>`)
	}
	b.WriteString("</releases><description>")
	for i := 0; i < 1000; i++ {
		b.WriteString("<p>x</p>")
	}
	b.WriteString("</description></component>")
	cs, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs[0].Releases) != maxReleases || len(cs[0].Description) != maxList {
		t.Fatalf("%d releases, %d paragraphs", len(cs[0].Releases), len(cs[0].Description))
	}
	if _, err := Parse(make([]byte, MaxDocument+1)); err == nil {
		t.Fatal("a document over the limit was read")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(doc))
	f.Add([]byte("<component><description><p>a<ul><li>b</li></ul></p></description></component>"))
	f.Add([]byte("<components><component><releases><release timestamp='-1'/></releases></component>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := Parse(b)
		if err != nil {
			return
		}
		for _, c := range cs {
			if len(c.Releases) > maxReleases || len(c.Screenshots) > maxScreenshots || len(c.Description) > maxList {
				t.Fatalf("over the caps: %+v", c)
			}
		}
	})
}
