package api_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/printing"
	"tracecraft/printing/printingtest"
)

// TestPrinterTestLabel: 测试打印 sends one small label in each printer's language (its name,
// the time and a QR) to the printer named in the path, Chinese names too; administrators only,
// each test audited; an unknown name is a 404; a printer that cannot be reached is a 409 that
// names it.
func TestPrinterTestLabel(t *testing.T) {
	f := newFixture(t)
	stub := printingtest.NewPrinter(t)
	port := stub.Port()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	offPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	f.admin.Do("PUT", "/api/v1/admin/printers", map[string]any{"rev": 0, "printers": []map[string]any{
		{"name": "line1", "host": "127.0.0.1", "port": port, "language": "zpl"},
		{"name": "仓库TSC", "host": "127.0.0.1", "port": port, "language": "tspl", "dpi": 300},
		{"name": "off", "host": "127.0.0.1", "port": offPort, "language": "zpl", "timeout": 2},
	}}, 200, nil)
	test := func(name string) string { return "/api/v1/admin/printers/" + url.PathEscape(name) + "/test" }

	op := f.user(t, "olga", "op")
	op.Do("POST", test("line1"), nil, 403, nil)

	var res printing.TestPrintResult
	f.admin.Do("POST", test("LINE1"), nil, 200, &res) // names compare without case
	if res.Printer != "line1" || res.Language != "zpl" || res.DPI != 203 || res.Bytes == 0 {
		t.Fatalf("result %+v", res)
	}
	zpl := string(stub.Job(t, 0))
	if len(zpl) != res.Bytes {
		t.Fatalf("the printer took %d bytes, the result says %d", len(zpl), res.Bytes)
	}
	// 40 × 30 mm at 8 dots a millimetre, one label, the name in the printer's font, the QR.
	for _, want := range []string{"^XA\n^PW320\n^LL240\n", "^FDline1^FS", "^FDZPL, 203 dpi^FS", "^BQN,2,", "TRACECRAFT TEST line1 ", "^GFA,"} {
		if !strings.Contains(zpl, want) {
			t.Fatalf("the ZPL test label lacks %q:\n%s", want, zpl)
		}
	}
	if strings.Count(zpl, "^XA") != 1 || !strings.HasSuffix(zpl, "^XZ\n") {
		t.Fatalf("not one ZPL label:\n%s", zpl)
	}

	f.admin.Do("POST", test("仓库TSC"), nil, 200, &res)
	tspl := string(stub.Job(t, 1))
	for _, want := range []string{"SIZE 40 mm,30 mm\r\n", "QRCODE ", "TRACECRAFT TEST 仓库TSC ", "BITMAP ", "\"TSPL, 300 dpi\"", "PRINT 1,1\r\n"} {
		if !strings.Contains(tspl, want) {
			t.Fatalf("the TSPL test label lacks %q:\n%s", want, tspl)
		}
	}
	if strings.Count(tspl, "PRINT ") != 1 {
		t.Fatalf("not one TSPL label:\n%s", tspl)
	}

	f.admin.Do("POST", test("nope"), nil, 404, nil)
	e := f.admin.Do("POST", test("off"), nil, 409, nil).Error(t)
	if e.Code != "printer_unreachable" || !strings.HasPrefix(e.Message, "打印机 off 无法连接：") {
		t.Fatalf("unreachable printer: %+v", e)
	}

	es, _, err := f.s.Kernel.Audit.ListPage(context.Background(), engine.AuditQuery{Action: "printers.test"})
	if err != nil || len(es) != 3 {
		t.Fatalf("audit %+v %v", es, err)
	}
	targets := map[string]bool{}
	for _, e := range es {
		targets[e.Target] = e.Actor == "admin"
	}
	if !targets["line1"] || !targets["仓库TSC"] || !targets["off"] {
		t.Fatalf("audited tests %+v", es)
	}
}
