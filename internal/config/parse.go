package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decode reads the YAML document in data into a Config (without defaults) and records in p the
// position of every field path and each YAML problem: unknown fields (yaml.v3 KnownFields) and type
// errors with their field paths. It reports false when the document cannot be read at all (a syntax
// error, several documents, not a mapping); after a type error or an unknown field it goes on, so
// validation can report the other problems in the same run.
func decode(p *problems, data []byte) (*Config, bool) {
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, true // empty document
		}
		p.addYAML(err.Error(), nil)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.add(p.at(extra.Line), "", "only one YAML document is allowed")
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return cfg, true
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return cfg, true
	}
	if root.Kind != yaml.MappingNode {
		p.add(p.at(root.Line), "", "the config must be a mapping (key: value)")
		return nil, false
	}
	idx := &nodeIndex{keys: map[int][]keyAt{}, values: map[int][]valueAt{}}
	idx.walk(p, root, "")

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				p.addYAML(e, idx)
			}
		} else {
			p.addYAML(err.Error(), idx)
		}
	}
	return cfg, true
}

// nodeIndex maps the lines of a YAML document to the field paths found there, so that yaml.v3's
// line-only messages can name their field.
type nodeIndex struct {
	keys   map[int][]keyAt   // line -> mapping keys on it
	values map[int][]valueAt // line -> value nodes starting on it, outermost first
}

type keyAt struct{ parent, key string }

type valueAt struct {
	path string
	node *yaml.Node
}

// walk records the position of every field path under n (at path) in p.pos and in idx. It follows
// the document, not the Config type: which keys are known is yaml.v3's KnownFields' business.
func (idx *nodeIndex) walk(p *problems, n *yaml.Node, path string) {
	if path != "" {
		idx.values[n.Line] = append(idx.values[n.Line], valueAt{path, n})
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" {
				continue // merge key: yaml.v3 resolves it; its fields sit at their anchor
			}
			sub := joinPath(path, k.Value)
			if _, seen := p.pos[sub]; !seen {
				p.pos[sub] = p.at(k.Line)
			}
			idx.keys[k.Line] = append(idx.keys[k.Line], keyAt{path, k.Value})
			idx.walk(p, v, sub)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			p.pos[sub] = p.at(item.Line)
			idx.walk(p, item, sub)
		}
	}
}

// unknownFieldRE matches yaml.v3's KnownFields message.
var unknownFieldRE = regexp.MustCompile(`^field (.*) not found in type \S+$`)

// fieldOf returns the path of the value that msg, a yaml.v3 message about line, is about.
func (idx *nodeIndex) fieldOf(line int, msg string) (string, bool) {
	cands := idx.values[line]
	if len(cands) == 0 {
		return "", false
	}
	// The innermost node first. yaml.v3 quotes a scalar as `value` (the first 7 bytes and "..." past
	// 10 bytes); Duration as "value".
	cands = slices.Clone(cands)
	slices.Reverse(cands)
	for _, c := range cands {
		if c.node.Kind != yaml.ScalarNode {
			continue
		}
		v := c.node.Value
		snippet := "`" + v + "`"
		if len(v) > 10 {
			snippet = "`" + v[:7] + "...`"
		}
		if strings.Contains(msg, " "+snippet+" ") || strings.Contains(msg, strconv.Quote(v)) {
			return c.path, true
		}
	}
	for _, c := range cands {
		if (c.node.Kind == yaml.SequenceNode && strings.Contains(msg, "!!seq")) ||
			(c.node.Kind == yaml.MappingNode && strings.Contains(msg, "!!map")) {
			return c.path, true
		}
	}
	return cands[0].path, true
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// addYAML records a yaml.v3 message ("line 3: ...") as "file:3: path: ...", naming the field when idx
// can tell which one.
func (p *problems) addYAML(msg string, idx *nodeIndex) {
	m := yamlLineRE.FindStringSubmatch(msg)
	if m == nil {
		p.add(p.name, "", strings.TrimPrefix(msg, "yaml: "))
		return
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	if idx == nil {
		p.add(p.at(line), "", text)
		return
	}
	if u := unknownFieldRE.FindStringSubmatch(text); u != nil {
		parent := ""
		for _, k := range idx.keys[line] {
			if k.key == u[1] {
				parent = k.parent
				break
			}
		}
		if parent == "" {
			parent = "(top level)"
		}
		p.add(p.at(line), parent, fmt.Sprintf("unknown field %q", u[1]))
		return
	}
	if strings.HasPrefix(text, "mapping key ") {
		p.add(p.at(line), "", text) // a duplicate key: the message names it
		return
	}
	path, ok := idx.fieldOf(line, text)
	if !ok {
		p.add(p.at(line), "", text)
		return
	}
	p.typed[path] = true
	p.add(p.at(line), path, text)
}

func (p *problems) at(line int) string { return fmt.Sprintf("%s:%d", p.name, line) }

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
