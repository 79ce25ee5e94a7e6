// Package cf recommends items with restricted Boltzmann machines
// (Salakhutdinov, Mnih & Hinton 2007): each user is a training case whose
// visible units are softmax units, one per item the user rated, with one
// state per rating level; unrated items are left out.
package cf

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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

// ReadRatings reads ratings from MovieLens 100K files (u.data, uN.base,
// uN.test: tab separated), MovieLens 1M ratings.dat ("::" separated), newer
// MovieLens ratings.csv (header userId,movieId,rating,timestamp) or any CSV
// of user,item,rating. User and item ids are kept as the file writes them.
// Errors name the file and line.
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
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := splitRating(text)
		if line == 1 && len(fields) >= 3 {
			if _, err := strconv.ParseFloat(strings.TrimSpace(fields[2]), 64); err != nil {
				continue // a header such as userId,movieId,rating,timestamp
			}
		}
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
	k := int(math.Round(fraction * float64(len(r.List))))
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

// ReadTitles reads item titles from MovieLens u.item ("|" separated,
// Latin-1), movies.dat ("::", Latin-1) or movies.csv (comma separated with
// quoted titles, UTF-8), keyed by item id.
func ReadTitles(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	latin1 := !strings.HasSuffix(strings.ToLower(filepath.Ext(path)), "csv")
	titles := map[string]string{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if latin1 {
			line = fromLatin1(line)
		}
		var id, title string
		switch {
		case strings.Contains(line, "::"):
			parts := strings.Split(line, "::")
			if len(parts) < 2 {
				return nil, fmt.Errorf("read %s: line %d: want id::title", path, n+1)
			}
			id, title = parts[0], parts[1]
		case strings.Contains(line, "|"):
			parts := strings.Split(line, "|")
			id, title = parts[0], parts[1]
		default:
			i := strings.Index(line, ",")
			if i < 0 {
				return nil, fmt.Errorf("read %s: line %d: want id,title", path, n+1)
			}
			id, title = line[:i], line[i+1:]
			if strings.HasPrefix(title, "\"") {
				if j := strings.LastIndex(title, "\""); j > 0 {
					title = strings.ReplaceAll(title[1:j], "\"\"", "\"")
				}
			} else if k := strings.Index(title, ","); k >= 0 {
				title = title[:k]
			}
			if n == 0 && strings.EqualFold(id, "movieId") {
				continue
			}
		}
		titles[strings.TrimSpace(id)] = strings.TrimSpace(title)
	}
	return titles, nil
}

// fromLatin1 converts ISO-8859-1 text to UTF-8.
func fromLatin1(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}
