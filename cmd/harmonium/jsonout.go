package main

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
)

// writeJSON writes v to w as one line of JSON. JSON has no NaN or
// infinities: a model whose parameters overflow can measure -Inf, so such
// numbers are written as null, with a note on stderr (unless it is nil),
// rather than failing the whole output.
func writeJSON(w, stderr io.Writer, v any) error {
	b, replaced, err := marshalFinite(v)
	if err != nil {
		return err
	}
	if replaced && stderr != nil {
		fmt.Fprintln(stderr, "note: some results are not finite (NaN or infinite); JSON has no such numbers, so they are written as null")
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// marshalFinite encodes v as JSON, writing null for every NaN or infinite
// number; replaced says whether there was one.
func marshalFinite(v any) (b []byte, replaced bool, err error) {
	b, err = json.Marshal(v)
	var bad *json.UnsupportedValueError
	if !errors.As(err, &bad) {
		return b, false, err
	}
	b, err = json.Marshal(finiteOrNull(reflect.ValueOf(v)))
	return b, err == nil, err
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// finiteOrNull returns a value that encodes as v does, but with nil in
// place of every NaN or infinite float. Structs become objects whose
// fields keep their order and their json tags' names and omitempty.
func finiteOrNull(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if t := v.Type(); t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface &&
		(t.Implements(jsonMarshaler) || t.Implements(textMarshaler)) {
		return v.Interface()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return finiteOrNull(v.Elem())
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return v.Interface()
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface() // []byte: base64, as encoding/json writes it
		}
		return finiteElems(v)
	case reflect.Array:
		return finiteElems(v)
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		return finiteMap(v)
	case reflect.Struct:
		return finiteStruct(v)
	}
	return v.Interface()
}

// finiteElems is finiteOrNull of each element of a slice or array.
func finiteElems(v reflect.Value) []any {
	out := make([]any, v.Len())
	for i := range out {
		out[i] = finiteOrNull(v.Index(i))
	}
	return out
}

// finiteMap is finiteOrNull of each value of a map, keyed as encoding/json
// keys it.
func finiteMap(v reflect.Value) map[string]any {
	out := make(map[string]any, v.Len())
	for it := v.MapRange(); it.Next(); {
		k, err := json.Marshal(it.Key().Interface())
		key := strings.Trim(string(k), `"`)
		if err != nil {
			key = fmt.Sprint(it.Key().Interface())
		}
		out[key] = finiteOrNull(it.Value())
	}
	return out
}

// finiteStruct is finiteOrNull of each exported field of a struct, named
// and skipped as its json tag says.
func finiteStruct(v reflect.Value) orderedObject {
	var out orderedObject
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || (!sf.IsExported() && !sf.Anonymous) {
			continue
		}
		if sf.Anonymous && name == "" {
			if k := v.Field(i).Kind(); k == reflect.Pointer && v.Field(i).IsNil() {
				continue
			}
			if fv := reflect.Indirect(v.Field(i)); fv.Kind() == reflect.Struct {
				out = append(out, finiteStruct(fv)...) // promoted, as encoding/json does
				continue
			}
			if !sf.IsExported() {
				continue
			}
		}
		if name == "" {
			name = sf.Name
		}
		fv := v.Field(i)
		if strings.Contains(","+opts+",", ",omitempty,") && isEmptyJSON(fv) {
			continue
		}
		out = append(out, objectField{name, finiteOrNull(fv)})
	}
	return out
}

// isEmptyJSON says whether omitempty drops v, as encoding/json decides it.
func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Struct:
		return false
	}
	return v.IsZero()
}

// objectField is one member of an orderedObject.
type objectField struct {
	name  string
	value any
}

// orderedObject is a JSON object whose members keep their order.
type orderedObject []objectField

// MarshalJSON writes the members in order.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(f.name)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
