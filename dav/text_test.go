package dav

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// appendTextRef is appendText as it was before its fast scan: the
// reference its output must equal byte for byte.
func appendTextRef(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if e := textEsc[c]; e != "" {
				dst = append(dst, s[last:i]...)
				dst = append(dst, e...)
				last = i + 1
			}
			i++
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		if !inCharRange(r) || r == utf8.RuneError && width == 1 {
			dst = append(dst, s[last:i]...)
			dst = append(dst, "\uFFFD"...)
			last = i + width
		}
		i += width
	}
	return append(dst, s[last:]...)
}

// vcardText is about n bytes of vCards as a book holds them: CRLF line
// ends, mostly ASCII, some names in UTF-8, the odd markup character.
func vcardText(n int) string {
	var b strings.Builder
	names := []string{"Ann Smith", "Jürgen Müller", "Zoë O'Brien", "José & María", "李小龙", "Bob <Bobby> Jones"}
	for k := 0; b.Len() < n; k++ {
		name := names[k%len(names)]
		fmt.Fprintf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%08x-4d2c-11ef-9a3b-%012x\r\nFN:%s\r\nN:%s;;;;\r\n", k*7919, k*104729, name, name)
		fmt.Fprintf(&b, "EMAIL;TYPE=INTERNET,WORK:person%d@example.com\r\nTEL;TYPE=CELL:+49 170 %07d\r\n", k, k*31)
		fmt.Fprintf(&b, "ORG:Example Corp %d\r\nADR;TYPE=WORK:;;Hauptstraße %d;Berlin;;10115;Germany\r\n", k%97, k%300)
		fmt.Fprintf(&b, "NOTE:Met at the conference in %d\\, follow up about the contract.\r\nREV:2024-06-01T12:00:00Z\r\nEND:VCARD\r\n", 2000+k%25)
	}
	return b.String()
}

var appendTextSeeds = []string{
	"", "plain", "BEGIN:VCARD\r\nFN:A & B <c>\r\nEND:VCARD\r\n", `"etag"`, "\x00\x01\t\n\r\x7f",
	"é☕\xff\xfe", "]]>", "\uFFFE\U0010FFFF\xed\xa0\x80", "abc\xe2\x82", "\xf4\x90\x80\x80", "\uFFFD",
	vcardText(2000),
}

func TestAppendText(t *testing.T) {
	for _, s := range appendTextSeeds {
		want := appendTextRef([]byte("x"), s)
		if got := appendText([]byte("x"), s); !bytes.Equal(got, want) {
			t.Errorf("%.100q: %.200q, want %.200q", s, got, want)
		}
		if got := appendText([]byte("x"), []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("[]byte %.100q: %.200q, want %.200q", s, got, want)
		}
	}
}

// FuzzAppendText: appendText writes what it wrote before its fast scan.
func FuzzAppendText(f *testing.F) {
	for _, s := range appendTextSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := appendTextRef(nil, s)
		if got := appendText(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %q, want %q", s, got, want)
		}
		if got := appendText(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("[]byte %q: %q, want %q", s, got, want)
		}
	})
}

// BenchmarkAppendText escapes 100 kB of vCards, the address data of a
// multiget of 100: from a string, from bytes, and with the old code.
func BenchmarkAppendText(b *testing.B) {
	s := vcardText(100 << 10)
	bs := []byte(s)
	dst := make([]byte, 0, 2*len(s))
	b.Run("new", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			dst = appendText(dst[:0], s)
		}
	})
	b.Run("bytes", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			dst = appendText(dst[:0], bs)
		}
	})
	b.Run("ref", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			dst = appendTextRef(dst[:0], s)
		}
	})
}
