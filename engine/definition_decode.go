package engine

// DecodeDefinition checks raw against a kind's meta-schema, then decodes it strictly into a D
// (unknown members refused): the first step of every kind's Compile and of its registry
// Validate hook. A mistake is a field error naming the JSON pointer of its place.
func DecodeDefinition[D any](meta *Schema, raw []byte) (*D, error) {
	if err := meta.ValidateJSON(raw, PathPointer); err != nil {
		return nil, err
	}
	var def D
	if err := DecodeStrict(raw, &def); err != nil {
		return nil, err
	}
	return &def, nil
}
