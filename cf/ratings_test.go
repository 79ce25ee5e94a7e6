package cf

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tempFile writes body to a new file called name and returns its path.
func tempFile(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadTitlesFormats(t *testing.T) {
	const toy, president = "Toy Story (1995)", "American President, The (1995)"
	for _, c := range []struct {
		name, body string
		want       map[string]string
	}{
		{"movies.csv", "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n" +
			"11,\"American President, The (1995)\",Comedy|Drama|Romance\n2,Jumanji (1995),Adventure|Children|Fantasy\n",
			map[string]string{"1": toy, "11": president, "2": "Jumanji (1995)"}},
		// Windows line ends and a byte-order mark; a title that is a number.
		{"bom.csv", "\ufeffmovieId,title,genres\r\n1,Toy Story (1995),Animation|Comedy\r\n3,\"Quote \"\"Me\"\" (2001)\",Drama\r\n4,1917,War\r\n",
			map[string]string{"1": toy, "3": `Quote "Me" (2001)`, "4": "1917"}},
		// A movies.csv under another name is still CSV (its first line says so).
		{"movies.txt", "movieId,title,genres\n11,\"American President, The (1995)\",Comedy|Drama\n1,Toy Story (1995),Animation|Comedy\n",
			map[string]string{"1": toy, "11": president}},
		{"noheader.txt", "1,Toy Story (1995),Animation|Comedy\n11,\"American President, The (1995)\",Comedy|Drama\n",
			map[string]string{"1": toy, "11": president}},
		{"movies.dat", "1::Toy Story (1995)::Animation|Children's|Comedy\n11::American President, The (1995)::Comedy|Drama|Romance\n" +
			"73::Mis\xe9rables, Les (1995)::Drama|Musical\n",
			map[string]string{"1": toy, "11": president, "73": "Misérables, Les (1995)"}},
		{"utf8.dat", "73::Misérables, Les (1995)::Drama|Musical\n", map[string]string{"73": "Misérables, Les (1995)"}},
		{"u.item", "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n" +
			"11|American President, The (1995)|01-Jan-1995||http://x|0|0\n\n267|unknown||||1|0\n" +
			"1300|Caf\xe9 au lait (1993)|01-Jan-1993||http://x|0\n",
			map[string]string{"1": toy, "11": president, "267": "unknown", "1300": "Café au lait (1993)"}},
		{"items.tsv", "1\tToy Story (1995)\n2\tJumanji (1995)\n", map[string]string{"1": toy, "2": "Jumanji (1995)"}},
	} {
		p := tempFile(t, c.name, c.body)
		got, err := ReadTitles(p)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		for id, title := range c.want {
			if got[id] != title {
				t.Errorf("%s: id %s has title %q, want %q", c.name, id, got[id], title)
			}
		}
	}
}

func TestReadTitlesRejects(t *testing.T) {
	for _, c := range []struct {
		name, body, msg string
		notTitles       bool
	}{
		{"u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n", "not a titles file: line 1 looks like a rating (user, item, rating)", true},
		{"ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n1,29,3.5,1112484676\n", "not a titles file: line 2 looks like a rating (user, item, rating)", true},
		{"plain.csv", "1,2,3.5,1112486027\n", "not a titles file: line 1 looks like a rating", true},
		{"ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n", "not a titles file: line 1 looks like a rating", true},
		{"pairs.txt", "1,10\n2,20\n", `not a titles file: most lines have a number, not a title, in the second field (line 1: "10")`, true},
		{"words.txt", "\n\nhello world\n", `not a titles file: line 3 has no "|", "::", tab or comma`, true},
		{"empty.csv", "", "not a titles file: no titles in it", true},
		{"header.csv", "movieId,title,genres\n", "not a titles file: no titles in it", true},
		{"movies.dat", "1::Toy Story (1995)::Animation\n2::Jumanji (1995)::Adventure\n3 Grumpier Old Men (1995)\n",
			`line 3: want an id and a title separated by "::", found "3 Grumpier Old Men (1995)"`, false},
		{"u.item", "1|Toy Story (1995)|x\n|Nobody (2000)|y\n", "line 2: empty item id", false},
		{"movies.csv", "movieId,title,genres\n1,Toy Story (1995),Animation\n2\n", `line 3: want an id and a title separated by a comma, found "2"`, false},
		{"quote.csv", "movieId,title,genres\n1,Toy Story (1995),Animation\n2,\"Jumanji (1995),Adventure\n", "line 3: extraneous or missing \" in quoted-field", false},
		{"bare.csv", "movieId,title,genres\n1,Toy \"Story\" (1995),Animation\n", "line 2: bare \" in non-quoted-field", false},
		{"wide.csv", "movieId,title,genres\n1,Toy Story (1995)" + strings.Repeat(",x", 1000) + "\n", "line 2: more than 1000 fields", false},
		{"wide2.csv", "1,\"a\nb\"" + strings.Repeat(",", 1000) + "\n", "line 1: more than 1000 fields", false},
	} {
		p := tempFile(t, c.name, c.body)
		_, err := ReadTitles(p)
		if err == nil || !strings.HasPrefix(err.Error(), "read "+p+": ") || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want \"read %s: ...%s\"", c.name, err, p, c.msg)
			continue
		}
		if errors.Is(err, ErrNotTitles) != c.notTitles {
			t.Errorf("%s: errors.Is(%v, ErrNotTitles) = %v", c.name, err, !c.notTitles)
		}
	}
	big := tempFile(t, "big.csv", "movieId,title\n"+strings.Repeat("1,A Film (2000)\n", maxTitlesFile/15+1))
	if _, err := ReadTitles(big); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB, too large for a titles file") {
		t.Errorf("big file: %v", err)
	}
	dir := t.TempDir()
	if _, err := ReadTitles(dir); err == nil || !strings.HasPrefix(err.Error(), "read "+dir+": ") {
		t.Errorf("directory: %v", err)
	}
	if _, err := ReadTitles(filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadRatingsLongLine(t *testing.T) {
	p := tempFile(t, "r.csv", "1,2,3\n1,3,4\n1,"+strings.Repeat("9", maxRatingLine)+",5\n")
	_, err := ReadRatings(p)
	if err == nil || err.Error() != "read "+p+": line 3 is longer than 1 MiB: not a ratings file?" {
		t.Fatalf("long line: %v", err)
	}
	dir := t.TempDir()
	if _, err := ReadRatings(dir); err == nil || err.Error() != "read "+dir+": is a directory" {
		t.Fatalf("directory: %v", err)
	}
	// A header after a comment is still a header.
	r, err := ReadRatings(tempFile(t, "h.csv", "# exported\n\nuserId,movieId,rating\n1,2,3\n"))
	if err != nil || len(r.List) != 1 {
		t.Fatalf("header after a comment: %+v %v", r, err)
	}
}

func TestSplitFractionOutOfRange(t *testing.T) {
	r := &Ratings{List: []Rating{{"a", "x", 1}, {"a", "y", 2}, {"b", "x", 3}}}
	for _, f := range []float64{-1, 0, 2, math.NaN(), math.Inf(1)} {
		train, test := r.Split(f, 1)
		if len(train.List)+len(test.List) != 3 {
			t.Fatalf("fraction %g: %d + %d ratings", f, len(train.List), len(test.List))
		}
	}
}

func TestWriteRatingsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := &Ratings{List: []Rating{{"u1", "i1", 4}, {"u 2", "item,2", 3.5}, {"u1", "i3", 0.5}}}
	p := filepath.Join(dir, "r.tsv")
	if err := r.Write(p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRatings(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.List) != len(r.List) {
		t.Fatalf("%d ratings back, want %d", len(back.List), len(r.List))
	}
	for i, x := range r.List {
		if back.List[i] != x {
			t.Fatalf("rating %d: %+v, want %+v", i, back.List[i], x)
		}
	}
	bad := &Ratings{List: []Rating{{"u\t1", "i", 1}}}
	if err := bad.Write(filepath.Join(dir, "bad.tsv")); err == nil || !strings.Contains(err.Error(), "tab") {
		t.Fatalf("an id with a tab: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.tsv")); err == nil {
		t.Fatal("a refused file was written")
	}
}

func TestParseUserRatings(t *testing.T) {
	got, err := ParseUserRatings([]byte(`[{"item":"50","rating":5},{"item":172,"rating":4.5},{"item":"50","rating":3}]`))
	if err != nil || len(got) != 2 || got["50"] != 3 || got["172"] != 4.5 {
		t.Fatalf("%v %v", got, err)
	}
	for body, want := range map[string]string{
		`{}`:                          "JSON array",
		`[]`:                          "empty list",
		`[{"item":true,"rating":1}]`:  "string or a number",
		`[{"item":"","rating":1}]`:    "empty",
		`[{"item":"1"}]`:              `no "rating"`,
		`[{"item":"1","rating":"x"}]`: "JSON array",
		string(make([]byte, 17<<20)):  "more than",
	} {
		if _, err := ParseUserRatings([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.30q: %v, want %q", body, err, want)
		}
	}
}
