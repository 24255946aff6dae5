import { describe, expect, it } from 'vitest'
import { ApiError, issueText } from './client'
import { problemsOf } from '../admin/problems'
import { batchRows } from '../inbox/batch'

// Field errors that name their field by label (a record's, api/errors.go) are shown as the
// server wrote them; the others keep their path in front.
describe('field issues with labels', () => {
  it('shows a labelled issue as its message, another after its path', () => {
    expect(issueText({ field: 'qa_sign', label: '质检签名', message: '质检签名：必填' })).toBe('质检签名：必填')
    expect(issueText({ field: 'items.2.qty', label: 'Items row 3 · Qty', message: 'Items row 3 · Qty is required' })).toBe('Items row 3 · Qty is required')
    expect(issueText({ field: 'qty', message: '必填' })).toBe('qty: 必填')
  })

  it('does not name a labelled field twice in a summary or a batch result', () => {
    const e = new ApiError(400, 'invalid', '质检签名：必填', [{ field: 'qa_sign', code: 'required', label: '质检签名', message: '质检签名：必填' }])
    expect(problemsOf(e, { qa_sign: 'qa_sign' }).summary).toBe('质检签名：必填')
    expect(e.fieldErrors()).toEqual({ qa_sign: '质检签名：必填' })
    // A batch's field names its label (workflow.BatchField) and reads as the server wrote it.
    const field = { field: 'qa_sign', code: 'required', label: '质检签名', message: '质检签名：必填' }
    const rows = batchRows(['a'], [{ task: 'a', ok: false, code: 'invalid', message: '输入有误', fields: [field] }], [], '?')
    expect(rows[0].message).toBe('输入有误 (质检签名：必填)')
  })
})
