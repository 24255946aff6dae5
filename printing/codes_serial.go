package printing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
)

// An item code's serial is its issue number (the global sequence, 1, 2, 3…) made unguessable
// and self-checking, in 12 characters of Crockford's base32 (digits and capitals without I, L,
// O and U — nothing to misread on a label, nothing to escape in a URL):
//
//	perm = F(seq)           a keyed permutation of the 40-bit sequence number: a balanced Feistel
//	                        network, 6 rounds over two 20-bit halves, AES-256 as the round function
//	tag  = T(perm)          15 bits of AES under the same key, another domain
//	serial = base32(perm ‖ tag)   11 characters (55 bits)
//	       + check          one character: Luhn mod 32 over the 11, so a mistyped character or
//	                        two swapped neighbours are caught before anything else
//
// Neighbouring codes on a roll share nothing visible, so a serial does not tell the next one;
// a made-up serial fails the check character (31 in 32) and then the tag (32,767 in 32,768)
// without any lookup; one that passes both decodes to a sequence number that must still lie
// in an issued range. The key is the kernel's secret for "printing.codes" (derived from the
// audit key): the same key must stay, or printed codes stop resolving.

// crockford is Crockford's base32 alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// SerialLen is the length of an item code's serial.
const SerialLen = 12

// maxSeq is the last sequence number a serial can carry (2^40 - 1, about 10^12 codes).
const maxSeq = 1<<40 - 1

const (
	feistelRounds = 6
	halfBits      = 20
	halfMask      = 1<<halfBits - 1
	tagBits       = 15
	tagMask       = 1<<tagBits - 1
)

// errNotSerial is the error of a text that is no serial of ours (malformed, a wrong check
// character or tag): a forged or mistyped code.
var errNotSerial = errors.New("not an item code serial")

var crockfordValue = func() [256]int8 {
	var v [256]int8
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(crockford); i++ {
		v[crockford[i]] = int8(i)
		if c := crockford[i]; c >= 'A' && c <= 'Z' {
			v[c+'a'-'A'] = int8(i)
		}
	}
	// Crockford's decoding aliases: O is 0, I and L are 1.
	for _, a := range []struct {
		c byte
		v int8
	}{{'O', 0}, {'o', 0}, {'I', 1}, {'i', 1}, {'L', 1}, {'l', 1}} {
		v[a.c] = a.v
	}
	return v
}()

// serialCodec turns sequence numbers into serials and back under one key.
type serialCodec struct {
	block cipher.Block
}

func newSerialCodec(key []byte) (*serialCodec, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("serial key: want 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("serial key: %w", err)
	}
	return &serialCodec{block: b}, nil
}

// prf is AES of (domain, round, x) cut to its first 32 bits.
func (c *serialCodec) prf(domain, round byte, x uint64) uint32 {
	var in, out [16]byte
	in[0], in[1] = domain, round
	for i := 0; i < 8; i++ {
		in[2+i] = byte(x >> (8 * i))
	}
	c.block.Encrypt(out[:], in[:])
	return uint32(out[0]) | uint32(out[1])<<8 | uint32(out[2])<<16 | uint32(out[3])<<24
}

func (c *serialCodec) permute(seq uint64) uint64 {
	l, r := (seq>>halfBits)&halfMask, seq&halfMask
	for i := 0; i < feistelRounds; i++ {
		l, r = r, l^(uint64(c.prf('F', byte(i), r))&halfMask)
	}
	return l<<halfBits | r
}

func (c *serialCodec) unpermute(p uint64) uint64 {
	l, r := (p>>halfBits)&halfMask, p&halfMask
	for i := feistelRounds - 1; i >= 0; i-- {
		l, r = r^(uint64(c.prf('F', byte(i), l))&halfMask), l
	}
	return l<<halfBits | r
}

func (c *serialCodec) tag(perm uint64) uint64 {
	return uint64(c.prf('T', 0, perm)) & tagMask
}

// Encode gives the serial of sequence number seq (1 ≤ seq ≤ maxSeq).
func (c *serialCodec) Encode(seq int64) string {
	perm := c.permute(uint64(seq))
	v := perm<<tagBits | c.tag(perm)
	var b [SerialLen]byte
	for i := SerialLen - 2; i >= 0; i-- {
		b[i] = crockford[v&31]
		v >>= 5
	}
	b[SerialLen-1] = crockford[luhn32(b[:SerialLen-1])]
	return string(b[:])
}

// Decode gives the sequence number of serial s, read as Crockford's base32 (either case; O for
// 0, I and L for 1; hyphens ignored); errNotSerial when it is malformed or its check
// character or tag is wrong.
func (c *serialCodec) Decode(s string) (int64, error) {
	var digits [SerialLen]int
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			continue
		}
		v := crockfordValue[s[i]]
		if v < 0 || n == SerialLen {
			return 0, errNotSerial
		}
		digits[n] = int(v)
		n++
	}
	if n != SerialLen {
		return 0, errNotSerial
	}
	var canon [SerialLen]byte
	for i, d := range digits {
		canon[i] = crockford[d]
	}
	if luhn32(canon[:SerialLen-1]) != digits[SerialLen-1] {
		return 0, errNotSerial
	}
	var v uint64
	for _, d := range digits[:SerialLen-1] {
		v = v<<5 | uint64(d)
	}
	perm, tag := v>>tagBits, v&tagMask
	if subtle.ConstantTimeEq(int32(tag), int32(c.tag(perm))) != 1 {
		return 0, errNotSerial
	}
	seq := c.unpermute(perm)
	if seq == 0 || seq > maxSeq {
		return 0, errNotSerial
	}
	return int64(seq), nil
}

// Canonical gives s as Encode writes it (upper case, aliases resolved, no hyphens) when it is
// a well-formed serial of this codec, else "".
func (c *serialCodec) Canonical(s string) string {
	seq, err := c.Decode(s)
	if err != nil {
		return ""
	}
	return c.Encode(seq)
}

// luhn32 is the Luhn mod N check character (N = 32) of the base32 text s: it catches every
// single wrong character and every swap of two neighbours but one pair.
func luhn32(s []byte) int {
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		add := factor * int(crockfordValue[s[i]])
		factor = 3 - factor
		sum += add/32 + add%32
	}
	return (32 - sum%32) % 32
}
