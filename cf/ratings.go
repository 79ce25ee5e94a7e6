// Package cf recommends items with restricted Boltzmann machines
// (Salakhutdinov, Mnih & Hinton 2007): each user is a training case whose
// visible units are softmax units, one per item the user rated, with one
// state per rating level; unrated items are left out.
package cf

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
)

// Rating is one user's rating of one item.
type Rating struct {
	User, Item string
	Value      float64
}

// Ratings is a list of ratings read from a file.
type Ratings struct {
	List       []Rating
	Source     string
	Duplicates int // user-item pairs rated more than once; the last rating wins
}

// maxRatingLine bounds a line of a ratings file.
const maxRatingLine = 1 << 20

// ReadRatings reads ratings from MovieLens 100K files (u.data, uN.base,
// uN.test: tab separated), MovieLens 1M ratings.dat ("::" separated), newer
// MovieLens ratings.csv (header userId,movieId,rating,timestamp) or any CSV
// of user,item,rating. User and item ids are kept as the file writes them.
// The first line that is not blank or a # comment is skipped when its third
// field is not a number (a header). Lines are at most 1 MiB. Errors name
// the file and line.
func ReadRatings(path string) (*Ratings, error) {
	f, err := os.Open(path)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	r := &Ratings{Source: path}
	seen := map[[2]string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), maxRatingLine)
	line, first := 0, true
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := splitRating(text)
		if first && len(fields) >= 3 {
			first = false
			if _, err := strconv.ParseFloat(strings.TrimSpace(fields[2]), 64); err != nil {
				continue // a header such as userId,movieId,rating,timestamp
			}
		}
		first = false
		if len(fields) < 3 {
			return nil, fmt.Errorf("read %s: line %d: want user, item and rating, found %d field(s)", path, line, len(fields))
		}
		user, item := strings.TrimSpace(fields[0]), strings.TrimSpace(fields[1])
		if user == "" || item == "" {
			return nil, fmt.Errorf("read %s: line %d: empty user or item id", path, line)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(fields[2]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("read %s: line %d: rating %q is not a number", path, line, strings.TrimSpace(fields[2]))
		}
		key := [2]string{user, item}
		if i, ok := seen[key]; ok {
			r.List[i].Value = v
			r.Duplicates++
			continue
		}
		seen[key] = len(r.List)
		r.List = append(r.List, Rating{User: user, Item: item, Value: v})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("read %s: line %d is longer than %d MiB: not a ratings file?", path, line+1, maxRatingLine>>20)
		}
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(r.List) == 0 {
		return nil, fmt.Errorf("read %s: no ratings", path)
	}
	return r, nil
}

// Transposed returns the ratings with users and items swapped.
func (r *Ratings) Transposed() *Ratings {
	t := &Ratings{List: make([]Rating, len(r.List)), Source: r.Source, Duplicates: r.Duplicates}
	for i, x := range r.List {
		t.List[i] = Rating{User: x.Item, Item: x.User, Value: x.Value}
	}
	return t
}

// Likes returns the ratings as likes (1, at least threshold) and dislikes (0).
func (r *Ratings) Likes(threshold float64) *Ratings {
	t := &Ratings{List: make([]Rating, len(r.List)), Source: r.Source, Duplicates: r.Duplicates}
	for i, x := range r.List {
		t.List[i] = x
		if x.Value >= threshold {
			t.List[i].Value = 1
		} else {
			t.List[i].Value = 0
		}
	}
	return t
}

// Split returns a random fraction (chosen by seed) of the ratings as a
// test set and the rest as a training set.
func (r *Ratings) Split(fraction float64, seed uint64) (train, test *Ratings) {
	train, test = &Ratings{Source: r.Source}, &Ratings{Source: r.Source + " (held out)"}
	k := 0
	if fraction > 0 { // and not NaN
		k = int(math.Round(min(fraction, 1) * float64(len(r.List))))
	}
	held := make([]bool, len(r.List))
	for _, i := range rand.New(rand.NewPCG(seed, 0x5e1)).Perm(len(r.List))[:k] {
		held[i] = true
	}
	for i, x := range r.List {
		if held[i] {
			test.List = append(test.List, x)
		} else {
			train.List = append(train.List, x)
		}
	}
	return train, test
}

// Write stores the ratings at path as MovieLens u.data does, one
// "user<TAB>item<TAB>rating" line each, atomically; ReadRatings, pandas
// (sep="\t") and Surprise read it back.
func (r *Ratings) Write(path string) error {
	for _, x := range r.List {
		if strings.ContainsAny(x.User+x.Item, "\t\n\r") {
			return fmt.Errorf("write %s: id %q or %q holds a tab or line break", path, x.User, x.Item)
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<16)
		var buf []byte
		for _, x := range r.List {
			buf = append(buf[:0], x.User...)
			buf = append(append(buf, '\t'), x.Item...)
			buf = strconv.AppendFloat(append(buf, '\t'), x.Value, 'g', -1, 64)
			if _, err := bw.Write(append(buf, '\n')); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}

// MaxUserRatingsBytes bounds the JSON that ParseUserRatings accepts: 16 MiB,
// far more than one user's ratings.
const MaxUserRatingsBytes = 16 << 20

// ParseUserRatings reads one user's ratings given as a JSON array of
// {"item": ID, "rating": VALUE} (ID a string or a number), as cf recommend
// --ratings-of-user and a service take them. A later rating of the same
// item replaces an earlier one. Ratings must be finite numbers.
func ParseUserRatings(data []byte) (map[string]float64, error) {
	if len(data) > MaxUserRatingsBytes {
		return nil, fmt.Errorf("more than %d bytes: not one user's ratings", MaxUserRatingsBytes)
	}
	var list []struct {
		Item   json.RawMessage `json:"item"`
		Rating *float64        `json:"rating"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("want a JSON array of {\"item\": ..., \"rating\": ...}: %v", err)
	}
	if len(list) == 0 {
		return nil, errors.New("no ratings (an empty list)")
	}
	out := make(map[string]float64, len(list))
	for i, r := range list {
		var item string
		if err := json.Unmarshal(r.Item, &item); err != nil {
			var num json.Number
			if len(r.Item) == 0 || json.Unmarshal(r.Item, &num) != nil {
				return nil, fmt.Errorf("entry %d: \"item\" must be a string or a number", i+1)
			}
			item = num.String()
		}
		if item == "" {
			return nil, fmt.Errorf("entry %d: empty \"item\"", i+1)
		}
		if r.Rating == nil || math.IsNaN(*r.Rating) || math.IsInf(*r.Rating, 0) {
			return nil, fmt.Errorf("entry %d (item %q): no \"rating\" number", i+1, clip(item))
		}
		out[item] = *r.Rating
	}
	return out, nil
}

// splitRating splits a line on "::", a tab, a comma or white space.
func splitRating(text string) []string {
	switch {
	case strings.Contains(text, "::"):
		return strings.Split(text, "::")
	case strings.Contains(text, "\t"):
		return strings.Split(text, "\t")
	case strings.Contains(text, ","):
		return strings.Split(text, ",")
	}
	return strings.Fields(text)
}

// Levels returns the distinct rating values, in increasing order.
func (r *Ratings) Levels() []float64 {
	set := map[float64]bool{}
	for _, x := range r.List {
		set[x.Value] = true
	}
	out := make([]float64, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Float64s(out)
	return out
}

// ErrNotTitles is wrapped by the error of ReadTitles when the file is not
// a titles file: a ratings file, say, or one with no titles.
var ErrNotTitles = errors.New("not a titles file")

// maxTitlesFile bounds the size of a titles file (MovieLens 32M's
// movies.csv is about 4 MiB), maxTitleFields the fields of one record.
const (
	maxTitlesFile  = 16 << 20
	maxTitleFields = 1000
)

// ReadTitles reads item titles, keyed by item id, from MovieLens u.item
// ("|" separated), movies.dat ("::" separated), movies.csv (CSV with a
// header movieId,title,genres and quoted titles) or any file whose lines
// are id, title and optionally more fields, separated by "|", "::", a tab
// or a comma; ids and titles are trimmed of spaces. The format is decided
// once per file: CSV for a .csv file, otherwise the separator that comes
// first on the first line (a comma again meaning CSV, read with
// encoding/csv). The encoding is UTF-8 if the whole file is valid UTF-8,
// otherwise Latin-1 (as in u.item and movies.dat). A first line whose title
// field is "title" or "name" is a header. Files are at most 16 MiB.
//
// A file whose title fields are mostly plain numbers (a ratings file such
// as u.data or ratings.csv), or that holds no titles, is rejected with an
// error wrapping ErrNotTitles. Errors name the file and, for a line that
// cannot be read, the line.
func ReadTitles(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTitlesFile+1))
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxTitlesFile {
		return nil, fmt.Errorf("read %s: larger than %d MiB, too large for a titles file", path, maxTitlesFile>>20)
	}
	text := strings.TrimPrefix(string(b), "\ufeff")
	if !utf8.ValidString(text) {
		text = fromLatin1(text)
	}
	titles := map[string]string{}
	n, numeric, first := 0, 0, true
	var notTitle error // about the first line with a number for a title
	err = eachTitle(path, text, func(line int, fields []string) {
		id, title := strings.TrimSpace(fields[0]), strings.TrimSpace(fields[1])
		if first {
			first = false
			if strings.EqualFold(title, "title") || strings.EqualFold(title, "name") {
				return // a header
			}
		}
		n++
		if isNumber(title) {
			if numeric++; numeric == 1 {
				if len(fields) >= 3 && isNumber(fields[2]) {
					notTitle = fmt.Errorf("read %s: %w: line %d looks like a rating (user, item, rating)", path, ErrNotTitles, line)
				} else {
					notTitle = fmt.Errorf("read %s: %w: most lines have a number, not a title, in the second field (line %d: %q)", path, ErrNotTitles, line, clip(title))
				}
			}
		}
		titles[id] = title
	})
	switch {
	case err != nil:
		return nil, err
	case n == 0:
		return nil, fmt.Errorf("read %s: %w: no titles in it", path, ErrNotTitles)
	case 2*numeric > n:
		return nil, notTitle
	}
	return titles, nil
}

// eachTitle calls visit with the number and fields (at least an id and a
// title, and at most 4) of every line of a titles file that is not blank,
// after deciding the format from the extension and first line.
func eachTitle(path, text string, visit func(line int, fields []string)) error {
	sep := ","
	if !strings.EqualFold(filepath.Ext(path), ".csv") {
		n, first := firstLine(text)
		at := -1
		sep = ""
		for _, s := range []string{"::", "|", "\t", ","} {
			if i := strings.Index(first, s); i >= 0 && (at < 0 || i < at) {
				at, sep = i, s
			}
		}
		if sep == "" && first != "" {
			return fmt.Errorf("read %s: %w: line %d has no \"|\", \"::\", tab or comma between an id and a title", path, ErrNotTitles, n)
		}
	}
	check := func(line int, fields []string) error {
		if len(fields) < 2 {
			name := map[string]string{"\t": "a tab", ",": "a comma"}[sep]
			if name == "" {
				name = fmt.Sprintf("%q", sep)
			}
			return fmt.Errorf("read %s: line %d: want an id and a title separated by %s, found %q", path, line, name, clip(fields[0]))
		}
		if strings.TrimSpace(fields[0]) == "" {
			return fmt.Errorf("read %s: line %d: empty item id", path, line)
		}
		return nil
	}
	if sep != "," {
		for n, rest := 1, text; rest != ""; n++ {
			var line string
			line, rest, _ = strings.Cut(rest, "\n")
			if strings.TrimSpace(line) == "" {
				continue
			}
			fields := strings.SplitN(strings.TrimRight(line, "\r"), sep, 4)
			if err := check(n, fields); err != nil {
				return err
			}
			visit(n, fields)
		}
		return nil
	}
	if line, ok := csvFieldsBounded(text, maxTitleFields); !ok {
		return fmt.Errorf("read %s: line %d: more than %d fields", path, line, maxTitleFields)
	}
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	for {
		fields, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("read %s: line %d: %v", path, pe.Line, pe.Err)
			}
			return fmt.Errorf("read %s: %w", path, err)
		}
		if len(fields) == 1 && strings.TrimSpace(fields[0]) == "" {
			continue // a line of spaces
		}
		line, _ := cr.FieldPos(0)
		if err := check(line, fields); err != nil {
			return err
		}
		visit(line, fields[:min(len(fields), 4)])
	}
}

// csvFieldsBounded reports whether every CSV record of text has at most max
// fields, and if not the line where the first longer record starts. Quotes
// toggle quoting, as they do in the CSV that encoding/csv accepts.
func csvFieldsBounded(text string, max int) (line int, ok bool) {
	quoted, fields, start, line := false, 1, 1, 1
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				if fields++; fields > max {
					return start, false
				}
			}
		case '\n':
			line++
			if !quoted {
				fields, start = 1, line
			}
		}
	}
	return 0, true
}

// firstLine returns the number and text of the first line of text that is
// not blank, or 0 and "" when there is none.
func firstLine(text string) (int, string) {
	for n := 1; text != ""; n++ {
		line, rest, _ := strings.Cut(text, "\n")
		if strings.TrimSpace(line) != "" {
			return n, line
		}
		text = rest
	}
	return 0, ""
}

// isNumber reports whether s (trimmed) is a plain finite number.
func isNumber(s string) bool {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil && !math.IsInf(x, 0) && !math.IsNaN(x)
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// fromLatin1 converts ISO-8859-1 text to UTF-8.
func fromLatin1(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}
