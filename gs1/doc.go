// Package gs1 reads and writes GS1 data: check digits, Application Identifiers (AIs), element
// strings as scanners send them and as labels print them, and GS1 Digital Link URIs, to GS1's
// own rules.
//
// The forms engine turns a scan into fields with Parse; the printing engine makes barcode data
// with BuildElementString and QR codes with BuildDigitalLink, or, for the one-code-per-item
// (一物一码) QR of a unit label, with DigitalLinkForItem, whose link ParseItemLink reads back:
//
//	DigitalLinkForItem("t.brand.cn", "9501101530003", "L20251120", "000123", expiry)
//	→ https://t.brand.cn/01/09501101530003/10/L20251120/21/000123?17=260520
//
// The package knows the AIs that food traceability uses (Definitions lists them) and rejects
// the others, so a mistyped or foreign AI is an error rather than silently wrong data. Beyond
// each value's format it enforces:
//
//   - Digital Link data attributes: only AIs GS1 allows there may be in the query string
//     (Definition.DataAttribute); key qualifiers (21, 22, 235, 254, 8020) and 8200 may not.
//   - Digital Link paths: a key and its qualifiers in one of the key's sequences, in order
//     (Definition.Qualifiers: 01 → 22, 10, 21 or 235; 414 → 254; 415 → 8020; 8006 → 22, 10,
//     21). BuildDigitalLink chooses the sequence from a set of AIs; DigitalLink.URI writes a
//     parsed link back, the same URI when it was canonical.
//   - Symbology identifiers: CheckSymbology (and Parse) check that the data fits ]E0 (13
//     digits, or the 12 of a UPC-A), ]E4 (8), ]C1 (at most 48 characters), and that GS1 mode
//     (]C1, ]e0, ]d2, ]Q3, ]J1) carries element strings, never a URI.
//   - Pairing rules: AIs GS1 forbids together (01 with 02 or 37, 21 with 235, two 310n) are an
//     error everywhere; the partners an AI needs (02 needs 37, 21 needs 01 or 8006) are checked
//     by CheckPairs, on all that an item carries.
//   - Code lists: ISO 4217 currencies (391n, 393n) and ISO 3166 countries (421–426, 7030–7039
//     numeric; 4307, 4317 alpha-2); CountryOf and CurrencyOf give their letter codes.
//
// Every problem is an *Error naming the AI and, when there is text, the byte offset in it.
//
// Sources: the GS1 General Specifications (check digit, predefined-length AIs, the century rule
// for YYMMDD, GS1-128 capacity), the GS1 Barcode Syntax Dictionary (formats, linters, flags and
// the req, ex and dlpkey attributes of each AI), the GS1 Barcode Syntax Engine's test vectors
// and the GS1 Digital Link standard (key qualifiers, short names, percent-encoding). See
// docs/gs1.md.
package gs1
