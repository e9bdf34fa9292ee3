package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// key ties one setting to its flag, environment variable, YAML path and
// typed field.
type key struct {
	name, path, usage string
	secret, isBool    bool
	// value returns the field of c as a pflag.Value, which parses and
	// prints it by its type.
	value      func(c *Config) pflag.Value
	setDefault func(c *Config)
	// check validates the field beyond its type (an address, a positive
	// duration).
	check func(c *Config) error
}

// settable are the field types a setting may have.
type settable interface {
	string | bool | int | float64 | time.Duration | ByteSize
}

// option refines a key.
type option func(*key)

// secret masks the value in config print.
func secret(k *key) { k.secret = true }

// listens marks a listener address: host:port or "off".
func listens(k *key) {
	k.check = func(c *Config) error { return checkListen(k.value(c).String()) }
}

// positive refuses zero and negative numbers and durations.
func positive(k *key) {
	k.check = func(c *Config) error {
		switch v := k.value(c).(type) {
		case *durationValue:
			if *v <= 0 {
				return errors.New("want a positive duration such as 90s or 168h")
			}
		case *intValue:
			if *v <= 0 {
				return errors.New("want a positive integer")
			}
		case *byteSizeValue:
			if *v <= 0 {
				return errors.New("want a positive size such as 512MiB")
			}
		}
		return nil
	}
}

// nonNegative refuses negative durations.
func nonNegative(k *key) {
	k.check = func(c *Config) error {
		if v, ok := k.value(c).(*durationValue); ok && *v < 0 {
			return errors.New("want 0 or a positive duration")
		}
		return nil
	}
}

// setting declares one key: its flag name, YAML path, default, field and
// help text.
func nonNegativeInt(k *key) {
	k.check = func(c *Config) error {
		if v, ok := k.value(c).(*intValue); ok && *v < 0 {
			return errors.New("want 0 or a positive integer")
		}
		return nil
	}
}

func nonNegativeFloat(k *key) {
	k.check = func(c *Config) error {
		if v, ok := k.value(c).(*floatValue); ok && *v < 0 {
			return errors.New("want 0 or a positive number")
		}
		return nil
	}
}

func setting[T settable](name, path string, def T, field func(*Config) *T, usage string, opts ...option) key {
	k := key{name: name, path: path, usage: usage,
		setDefault: func(c *Config) { *field(c) = def },
		check:      func(*Config) error { return nil },
	}
	k.value = func(c *Config) pflag.Value {
		switch p := any(field(c)).(type) {
		case *string:
			return (*stringValue)(p)
		case *bool:
			return (*boolValue)(p)
		case *int:
			return (*intValue)(p)
		case *float64:
			return (*floatValue)(p)
		case *time.Duration:
			return (*durationValue)(p)
		case *ByteSize:
			return (*byteSizeValue)(p)
		}
		panic("config: unsupported setting type") // settable rules this out
	}
	_, k.isBool = any(def).(bool)
	for _, o := range opts {
		o(&k)
	}
	return k
}

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Type() string       { return "string" }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Type() string   { return "bool" }

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want an integer")
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Type() string   { return "int" }

type floatValue float64

func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("want a number such as 0.05")
	}
	*v = floatValue(f)
	return nil
}
func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) Type() string   { return "float" }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 90s, 15m or 168h")
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Type() string   { return "duration" }

type byteSizeValue ByteSize

func (v *byteSizeValue) Set(s string) error {
	b, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*v = byteSizeValue(b)
	return nil
}
func (v *byteSizeValue) String() string { return ByteSize(*v).String() }
func (v *byteSizeValue) Type() string   { return "bytes" }

// ByteSize is a number of bytes, written with a binary unit (KiB, MiB,
// GiB, TiB) or as plain bytes.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	n      int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseByteSize reads "2GiB", "512MiB", "64KiB" or "1048576".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("want a size such as 2GiB, 512MiB or a number of bytes")
	}
	return ByteSize(n * mult), nil
}

// String writes b with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range byteUnits[:len(byteUnits)-1] {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// loadFile applies the YAML file at path: every scalar at a known path sets
// that key; any other path is an error naming it, so a typo never passes
// silently.
func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 { // an empty file: nothing to override
		return nil
	}
	byPath := make(map[string]key, len(keys))
	for _, k := range keys {
		byPath[k.path] = k
	}
	var walk func(n *yaml.Node, prefix string) error
	walk = func(n *yaml.Node, prefix string) error {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				name := n.Content[i].Value
				if prefix != "" {
					name = prefix + "." + name
				}
				if err := walk(n.Content[i+1], name); err != nil {
					return err
				}
			}
			return nil
		case yaml.ScalarNode:
			k, ok := byPath[prefix]
			if !ok {
				return fmt.Errorf("config %s line %d: unknown key %q", path, n.Line, prefix)
			}
			if n.Tag == "!!null" {
				return nil
			}
			if err := k.value(c).Set(n.Value); err != nil {
				return fmt.Errorf("config %s line %d: %s: %q: %w", path, n.Line, prefix, n.Value, err)
			}
			return nil
		default:
			return fmt.Errorf("config %s line %d: %q: want a single value or a mapping", path, n.Line, prefix)
		}
	}
	return walk(doc.Content[0], "")
}
