import { useI18n } from 'vue-i18n'
import { displayValue, type DisplayWords, type FieldSpec } from '../fields/widgets'

/** useDisplay gives displayValue with the words of the app's language. */
export function useDisplay() {
  const { t, locale } = useI18n()
  const words = (): DisplayWords => ({
    lang: locale.value === 'en' ? 'en' : 'zh-CN',
    yes: t('common.yes'),
    no: t('common.no'),
    rows: (n) => t('records.rowsN', { n }),
    files: (n) => t('records.filesN', { n }),
    signed: t('records.signed'),
  })
  return (spec: FieldSpec, v: unknown) => displayValue(spec, v, words())
}
