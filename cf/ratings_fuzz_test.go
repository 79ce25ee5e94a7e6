package cf

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Lines in the formats ReadRatings and ReadTitles read, for the corpora.
var (
	ratingSeeds = []string{
		"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n",
		"1::1193::5::978300760\n1::661::3::978302109\n",
		"userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n1,29,3.5,1112484676\n",
		"# comment\n\nu i r\nann m1 4.5\nbob m1 0.5\n",
		"1,2,NaN\n",
		"1,2\n",
		",2,3\n",
	}
	titleSeeds = []string{
		"movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n11,\"American President, The (1995)\",Comedy|Drama|Romance\n",
		"1::Toy Story (1995)::Animation|Children's|Comedy\n73::Mis\xe9rables, Les (1995)::Drama|Musical\n",
		"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0\n267|unknown||||1|0\n",
		"\ufeffmovieId,title\r\n3,\"Quote \"\"Me\"\" (2001)\"\r\n",
		"196\t242\t3\t881250949\n",
		"1,2,3.5,1112486027\n",
		"1,\"a\nb\",c\n",
		"movieId,title\n1,Toy \"Story\"\n",
	}
)

// checkReadErr checks that err is one line, "read PATH: ...".
func checkReadErr(t *testing.T, err error, path string) {
	if s := err.Error(); !strings.HasPrefix(s, "read "+path+": ") || strings.Contains(s, "\n") {
		t.Fatalf("error %q is not one line \"read %s: ...\"", s, path)
	}
}

func FuzzReadRatings(f *testing.F) {
	for _, s := range ratingSeeds {
		f.Add([]byte(s))
	}
	p := filepath.Join(f.TempDir(), "ratings.data") // inputs run one at a time
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadRatings(p)
		if err != nil {
			checkReadErr(t, err, p)
			return
		}
		if r.Source != p || len(r.List) == 0 {
			t.Fatalf("source %q, %d ratings", r.Source, len(r.List))
		}
		seen := map[[2]string]bool{}
		for _, x := range r.List {
			if x.User == "" || x.Item == "" || math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
				t.Fatalf("rating %+v", x)
			}
			if seen[[2]string{x.User, x.Item}] {
				t.Fatalf("user %q rates item %q twice", x.User, x.Item)
			}
			seen[[2]string{x.User, x.Item}] = true
		}
	})
}

func FuzzReadTitles(f *testing.F) {
	for _, s := range titleSeeds {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	dir := f.TempDir() // inputs run one at a time
	f.Fuzz(func(t *testing.T, csvName bool, data []byte) {
		p := filepath.Join(dir, "titles.item")
		if csvName {
			p = filepath.Join(dir, "titles.csv")
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		titles, err := ReadTitles(p)
		if err != nil {
			checkReadErr(t, err, p)
			return
		}
		if len(titles) == 0 {
			t.Fatal("no titles and no error")
		}
		for id, title := range titles {
			if id == "" || id != strings.TrimSpace(id) || title != strings.TrimSpace(title) || !utf8.ValidString(id) || !utf8.ValidString(title) {
				t.Fatalf("id %q, title %q", id, title)
			}
		}
	})
}

func FuzzParseUserRatings(f *testing.F) {
	for _, s := range []string{`[{"item":"50","rating":5}]`, `[{"item":1,"rating":2.5},{"item":"x","rating":-1}]`, `[]`, `{}`, `[{"item":1e400,"rating":1}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseUserRatings(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on more than one line: %q", err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("no error and no ratings")
		}
		for item, v := range got {
			if item == "" || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("item %q rating %v accepted", item, v)
			}
		}
	})
}
