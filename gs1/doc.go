// Package gs1 reads and writes GS1 data: check digits, Application Identifiers (AIs), element
// strings as scanners send them and as labels print them, and GS1 Digital Link URIs.
//
// The forms engine turns a scan into fields with Parse; the printing engine makes barcode data
// with BuildElementString and QR codes with BuildDigitalLink. The package knows the AIs that
// food traceability uses (Definitions lists them) and rejects the others, so a mistyped or
// foreign AI is an error rather than silently wrong data.
//
// Sources: the GS1 General Specifications (check digit, predefined-length AIs, the century rule
// for YYMMDD), the GS1 Barcode Syntax Dictionary (formats and checks of each AI) and the GS1
// Digital Link standard (key qualifiers, short names, percent-encoding).
package gs1
