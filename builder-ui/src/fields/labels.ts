import type { ComputedRef, InjectionKey } from 'vue'

/** fieldLabelsKey gives the fields of the form being filled their labels by key (a scan field names the fields it fills). */
export const fieldLabelsKey: InjectionKey<ComputedRef<Record<string, string>>> = Symbol('fieldLabels')
