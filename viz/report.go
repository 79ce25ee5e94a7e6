package viz

import (
	"encoding/base64"
	"html/template"
	"io"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
)

// Report is a one-page summary of a training run.
type Report struct {
	Title    string
	Settings [][2]string // name, value
	Metrics  [][2]string
	// Table, when it has rows, is drawn first: its first row is the
	// header; Notes follow it.
	Table   [][]string
	Notes   []string
	Figures []Figure
}

// Figure is an image of the report with a title and a caption.
type Figure struct {
	Title, Caption string
	Data           []byte // PNG or SVG
	SVG            bool
}

// src is the figure as a data: URL.
func (f Figure) src() template.URL {
	kind := "image/png"
	if f.SVG {
		kind = "image/svg+xml"
	}
	return template.URL("data:" + kind + ";base64," + base64.StdEncoding.EncodeToString(f.Data))
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{"src": Figure.src}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
td { padding: 0.15em 1.2em 0.15em 0; vertical-align: top; }
td:first-child { color: #666; }
figure { margin: 1em 0; }
figure img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
.cols { display: flex; flex-wrap: wrap; gap: 2em; }
table.grid th { text-align: left; padding: 0.2em 1.2em 0.2em 0; border-bottom: 1px solid #ccc; }
table.grid td:first-child { color: #222; }
p.note { color: #555; font-size: 0.9em; margin: 0.2em 0; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Table}}<table class="grid">{{range $i, $r := .Table}}<tr>{{range $r}}{{if eq $i 0}}<th>{{.}}</th>{{else}}<td>{{.}}</td>{{end}}{{end}}</tr>{{end}}</table>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}{{end}}
<div class="cols">
{{if .Metrics}}<section><h2>Results</h2><table>{{range .Metrics}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table></section>{{end}}
<section><h2>Settings</h2><table>{{range .Settings}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table></section>
</div>
{{range .Figures}}<h2>{{.Title}}</h2>
<figure><img src="{{src .}}" alt="{{.Title}}"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}</body>
</html>
`))

// WriteReport writes r as one self-contained HTML page (images inline, no
// scripts, nothing fetched from the network), atomically.
func WriteReport(path string, r *Report) error {
	return atomicfile.Write(path, func(w io.Writer) error { return reportTemplate.Execute(w, r) })
}
