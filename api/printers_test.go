package api_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/printing"
	"tracecraft/printing/printingtest"
)

// TestPrintersAPI: administrators configure label printers (validated, field named; audited);
// others list their names only; an operator prints a lot label to a ZPL printer, which
// receives the label without the field hidden from the operator.
func TestPrintersAPI(t *testing.T) {
	f := newFixture(t)
	stub := printingtest.NewPrinter(t)
	const admin = "/api/v1/admin/printers"

	var l printing.PrinterList
	f.admin.Do("GET", admin, nil, 200, &l)
	if l.Rev != 0 || l.Printers == nil || len(l.Printers) != 0 {
		t.Fatalf("no printers yet: %+v", l)
	}
	bad := map[string]any{"rev": 0, "printers": []map[string]any{
		{"name": "line1", "host": "http://10.0.0.9", "language": "zpl"},
		{"name": "line2", "host": "10.0.0.9", "port": 99999, "language": "escpos"},
	}}
	wantFields(t, f.admin.Do("PUT", admin, bad, 400, nil), "printers.0.host printing.bad_host", "printers.1.port too_big", "printers.1.language one_of")
	res := f.admin.Do("PUT", admin, map[string]any{"rev": 0, "printers": []map[string]any{{"name": "line1", "host": "10.0.0.9", "lang": "zpl"}}}, 400, nil)
	wantFields(t, res, "printers.0.lang unknown_field")

	good := map[string]any{"rev": 0, "printers": []map[string]any{
		{"name": "包装线1", "host": "127.0.0.1", "port": stub.Port(), "language": "zpl", "timeout": 5},
	}}
	f.admin.Do("PUT", admin, good, 200, &l)
	if l.Rev != 1 || len(l.Printers) != 1 || l.Printers[0].Host != "127.0.0.1" {
		t.Fatalf("stored %+v", l)
	}
	f.admin.Do("PUT", admin, good, 409, nil) // rev 0 again: someone changed them meanwhile

	op := f.user(t, "olga", "op")
	op.Do("GET", admin, nil, 403, nil)
	op.Do("PUT", admin, good, 403, nil)
	var infos []printing.PrinterInfo
	res = op.Do("GET", "/api/v1/printers", nil, 200, &infos)
	if len(infos) != 1 || infos[0] != (printing.PrinterInfo{Name: "包装线1", Language: "zpl", DPI: 203}) || strings.Contains(string(res.Body), "127.0.0.1") {
		t.Fatalf("printers for users: %s", res.Body)
	}
	es, _, err := f.s.Kernel.Audit.ListPage(context.Background(), engine.AuditQuery{Action: "printers.update"})
	if err != nil || len(es) != 1 || es[0].Actor != "admin" {
		t.Fatalf("audit %+v %v", es, err)
	}

	// Print a lot label to the printer.
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	base := printBase("")
	f.admin.Do("POST", base, printLabel("lot_label"), 201, nil)
	f.admin.Do("POST", base+"/lot_label/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{
		"lot_no": "L-2026-001", "product": "鲜奶", "qty": 120, "cost": 987654.25, "grade": "a"}}, 201, &lot)

	res = op.Do("POST", base+"/lot_label/print", printing.PrintInput{Records: []string{lot.ID}, Output: "printer", Printer: "nope"}, 400, nil)
	wantFields(t, res, "printer not_found")
	var job printing.Job
	op.Do("POST", base+"/lot_label/print", printing.PrintInput{Records: []string{lot.ID}, Output: "printer", Printer: "包装线1"}, 200, &job)
	if job.Labels != 1 || job.Output != "printer:包装线1" {
		t.Fatalf("job %+v", job)
	}
	got := string(stub.Job(t, 0))
	if !strings.HasPrefix(got, "^XA\n^PW480\n^LL320\n") || !strings.HasSuffix(got, "^XZ\n") || strings.Count(got, "^XA") != 1 {
		t.Fatalf("not one 60×40 mm ZPL label at 203 dpi:\n%s", got)
	}
	if !strings.Contains(got, "^FDLOT L-2026-001 QTY 120.0^FS") || !strings.Contains(got, "^BQN,2,") || !strings.Contains(got, "^GFA,") {
		t.Fatalf("the label lacks its lot line, QR or Chinese bitmap:\n%s", got)
	}
	if strings.Contains(got, "987654") {
		t.Fatalf("the cost hidden from the operator reached the printer:\n%s", got)
	}

	// A printer that does not answer: the request fails with the printer's name.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	f.admin.Do("PUT", admin, map[string]any{"rev": 1, "printers": []map[string]any{{"name": "off", "host": "127.0.0.1", "port": port, "language": "tspl"}}}, 200, nil)
	e := op.Do("POST", base+"/lot_label/print", printing.PrintInput{Records: []string{lot.ID}, Output: "printer", Printer: "off"}, 409, nil).Error(t)
	if e.Code != "printer_unreachable" || !strings.HasPrefix(e.Message, "打印机 off 无法连接：") {
		t.Fatalf("unreachable printer: %+v", e)
	}
}
