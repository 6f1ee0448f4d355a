package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The chart is drawn with the standard library's image packages and
// x/image's built-in bitmap font: a horizontal bar per method, scaled per
// scenario (each scenario's fastest method spans the width), so that every
// comparison reads at a glance whatever its absolute speed.

var (
	white    = color.RGBA{255, 255, 255, 255}
	black    = color.RGBA{20, 20, 20, 255}
	grey     = color.RGBA{110, 110, 110, 255}
	wasmBlue = color.RGBA{40, 110, 200, 255}
	baseGrey = color.RGBA{175, 175, 175, 255}
	gridGrey = color.RGBA{230, 230, 230, 255}
)

const (
	chartW   = 1280
	labelW   = 330 // method labels
	barMaxW  = 540
	barH     = 16
	rowH     = 22
	headH    = 24
	marginX  = 16
	textBase = 12 // baseline offset of the 7x13 font inside a row
)

func (r *report) chart() ([]byte, error) {
	type row struct {
		head  string
		label string
		value float64
		max   float64
		wasm  bool
		text  string
	}
	var rows []row
	for _, sc := range r.Scenarios {
		rows = append(rows, row{head: sc.Name})
		most := 0.0
		for _, res := range sc.Results {
			most = max(most, res.RowsPerSec)
		}
		for _, res := range sc.Results {
			text := num(res.RowsPerSec) + " rows/s"
			if q := sc.ratio(res.Method); q > 0 {
				text += fmt.Sprintf("   wasmdest = %.2fx this", q)
			}
			rows = append(rows, row{label: res.Method, value: res.RowsPerSec, max: most, wasm: res.Wasmdest, text: text})
		}
	}
	if len(r.Scaling) > 0 {
		rows = append(rows, row{head: "scaling: append, no indexes, rows made on the fly (peak RSS)"})
		most := 0.0
		for _, s := range r.Scaling {
			most = max(most, s.RowsPerSec)
		}
		for _, s := range r.Scaling {
			rows = append(rows, row{label: "wasmdest, " + num(float64(s.Rows)) + " rows", value: s.RowsPerSec, max: most, wasm: true,
				text: fmt.Sprintf("%s rows/s, peak RSS %s", num(s.RowsPerSec), mib(s.PeakRSS))})
		}
	}
	h := 70
	for _, rw := range rows {
		if rw.head != "" {
			h += headH
		} else {
			h += rowH
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, chartW, h+20))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	text := func(x, y int, c color.Color, s string) {
		d := font.Drawer{Dst: img, Src: &image.Uniform{c}, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	rect := func(x0, y0, x1, y1 int, c color.Color) {
		draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
	}
	text(marginX, 20, black, fmt.Sprintf("wasmdest vs the ceiling: rows/s per scenario (%s rows; bars scaled per scenario)", num(float64(r.Rows))))
	text(marginX, 38, grey, fmt.Sprintf("%s  commit %s  load avg before %s, after %s", r.Finished.Format("2006-01-02 15:04 UTC"), r.Commit, r.LoadBefore, r.LoadAfter))
	rect(marginX, 48, marginX+12, 60, wasmBlue)
	text(marginX+18, 58, black, "wasmdest")
	rect(marginX+100, 48, marginX+112, 60, baseGrey)
	text(marginX+118, 58, black, "hand-written Go / native writer (the ceiling)")
	y := 70
	x0 := marginX + labelW
	for _, rw := range rows {
		if rw.head != "" {
			rect(marginX, y+2, chartW-marginX, y+3, gridGrey)
			text(marginX, y+headH-6, black, rw.head)
			y += headH
			continue
		}
		text(marginX+12, y+textBase+2, black, clip(rw.label, (labelW-20)/7))
		w := 0
		if rw.max > 0 {
			w = int(float64(barMaxW) * rw.value / rw.max)
		}
		c := baseGrey
		if rw.wasm {
			c = wasmBlue
		}
		rect(x0, y+3, x0+max(w, 1), y+3+barH, c)
		text(x0+w+8, y+textBase+2, black, rw.text)
		y += rowH
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}
