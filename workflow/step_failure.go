package workflow

import (
	"crypto/rand"
	"encoding/hex"

	"tracecraft/engine"
)

// A step that records a failure (a condition that could not be evaluated, a record edit or an
// action that failed) says what failed in neutral words and carries an error id; the cause,
// whose text may quote record values (an expression's operand, a field's value in a
// validation error) that a reader of the timeline may not be allowed to see, goes to the
// server's log under that id.

// stepFailure is a failure to log, with its id, once the step that names it is stored.
type stepFailure struct {
	id   string
	node string
	err  error
}

// newErrorID makes the id a failure is logged and shown under.
func newErrorID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// failureComment is the timeline's text of a failure with message code and error id.
func failureComment(code, id string) string {
	return engine.Message(engine.LangEN, code, map[string]any{"id": id})
}

// failOn ends the instance as failed at node because of err: the step says so by code and
// carries an error id; err is logged under it once the change is stored (runEffects).
func (m *machine) failOn(node, code string, err error) {
	id := newErrorID()
	m.step(stepError, node, "", failureComment(code, id), "").ErrorID = id
	m.finish(StateFailed, node)
	m.eff.failures = append(m.eff.failures, stepFailure{id: id, node: node, err: err})
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"flowrun.condition_failed": {ZH: "条件无法计算，流程已终止（错误编号 {id}）", EN: "the condition could not be evaluated; the flow stopped (error id {id})"},
		"flowrun.edit_failed":      {ZH: "审批人的修改未能写入记录（错误编号 {id}）", EN: "the approver's edit could not be written to the record (error id {id})"},
		"flowrun.action_failed":    {ZH: "自动操作失败，流程已终止（错误编号 {id}）", EN: "the automatic action failed; the flow stopped (error id {id})"},
	})
}
