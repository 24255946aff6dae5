package forms

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"tracecraft/engine"
)

// FieldTypeLocation is the x-type of a map location.
const FieldTypeLocation = "location"

// LocationOptions are the x-options of a location (定位) field.
type LocationOptions struct {
	// CoordinateSystem is the datum of the stored coordinates: "wgs84" (GPS, the default),
	// "gcj02" (what AMap, Tencent Maps and WeChat give in China) or "bd09" (Baidu Maps).
	// Values are stored as given; the map that shows them must use the same system.
	CoordinateSystem string `json:"coordinateSystem,omitempty"`
}

var locationSystems = []string{"wgs84", "gcj02", "bd09"}

const locationMaxAddress = 500

// locationField is a point on the map with an optional address, stored as
// map[string]any{"lat": float64, "lng": float64, "address": string} (address "" when none, so
// expressions always find a string). It takes such an object, coordinates as numbers or
// numeric strings, or one string "lat,lng" as imports give it.
type locationField struct{}

func (locationField) ID() string { return FieldTypeLocation }

func (locationField) Label() engine.Text { return engine.Text{ZH: "定位", EN: "Location"} }

func (locationField) Compile(c *CompileContext, f *Field) error {
	var opts LocationOptions
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &opts)); err != nil {
		return err
	}
	if opts.CoordinateSystem == "" {
		opts.CoordinateSystem = "wgs84"
	} else if !slices.Contains(locationSystems, opts.CoordinateSystem) {
		fe.Add("x-options.coordinateSystem", "one_of", map[string]any{"values": strings.Join(locationSystems, ", ")})
	}
	addFieldErrors(&fe, checkFieldKeywords(f))
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = &opts
	return nil
}

func (locationField) Schema(f *Field) map[string]any {
	return map[string]any{
		"type":                 "object",
		"required":             []any{"lat", "lng"},
		"additionalProperties": false,
		"properties": map[string]any{
			"lat":     map[string]any{"type": "number", "minimum": -90, "maximum": 90},
			"lng":     map[string]any{"type": "number", "minimum": -180, "maximum": 180},
			"address": map[string]any{"type": "string", "maxLength": locationMaxAddress},
		},
	}
}

func (locationField) ExprType(f *Field) engine.ExprType {
	return engine.ExprObjectOf(map[string]engine.ExprType{
		"lat":     {Kind: engine.ExprNumber},
		"lng":     {Kind: engine.ExprNumber},
		"address": {Kind: engine.ExprString},
	})
}

func (locationField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	var obj map[string]any
	switch v := in.(type) {
	case map[string]any:
		obj = v
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return nil, nil
		}
		lat, lng, ok := strings.Cut(strings.ReplaceAll(s, "，", ","), ",")
		if !ok {
			return nil, engine.Invalid("", "invalid_format", map[string]any{"detail": "lat,lng"})
		}
		obj = map[string]any{"lat": lat, "lng": lng}
	default:
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "object"})
	}

	var fe engine.FieldErrors
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if k != "lat" && k != "lng" && k != "address" {
			fe.Add(k, "unknown_field", nil)
		}
	}
	address := ""
	switch a := obj["address"].(type) {
	case nil:
	case string:
		address = strings.TrimSpace(a)
		if utf8.RuneCountInString(address) > locationMaxAddress {
			fe.Add("address", "too_long", map[string]any{"max": locationMaxAddress})
		}
	default:
		fe.Add("address", "wrong_type", map[string]any{"want": "string"})
	}
	coord := func(key string, limit float64) (float64, bool) {
		raw := obj[key]
		v, empty := 0.0, raw == nil
		if !empty {
			var err error
			v, empty, err = parseNumberInput(raw)
			if err != nil {
				bad, _ := engine.AsFieldErrors(err) // parseNumberInput fails only with field errors
				for _, e := range bad {
					fe.Add(key, e.Code, e.Params)
				}
				return 0, false
			}
		}
		switch {
		case empty:
			return 0, true
		case v < -limit:
			fe.Add(key, "too_small", map[string]any{"min": -limit})
		case v > limit:
			fe.Add(key, "too_big", map[string]any{"max": limit})
		}
		return v, false
	}
	lat, noLat := coord("lat", 90)
	lng, noLng := coord("lng", 180)
	if noLat && noLng && address == "" && len(fe) == 0 {
		return nil, nil // an empty location, as a cleared map picker sends it
	}
	if noLat {
		fe.Add("lat", "required", nil)
	}
	if noLng {
		fe.Add("lng", "required", nil)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return map[string]any{"lat": lat, "lng": lng, "address": address}, nil
}

func init() { RegisterFieldType(locationField{}) }

var _ FieldType = (*locationField)(nil)
