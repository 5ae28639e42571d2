/**
 * Copies of small arrays with one slot changed, allocated once at their final size: the model's
 * persistent structures copy a few such arrays per operation, and they are most of its garbage
 * (slice-then-splice or slice-then-push allocates twice, concat is slow in V8).
 *
 * No array or object literals here, nor in the records the hot path builds again and again
 * (endpoints, container records, trie nodes: those are classes). V8 watches each literal's
 * allocation site, and a site whose objects all survived a young collection (the standing
 * containers a lab starts with) is switched to allocating in the old generation for good. The
 * same site then fills the old generation with the short-lived copies of every later operation,
 * which also keep the young objects they point to alive: measured on the simulator benchmark,
 * 0.8 MB promoted per young collection instead of 0.1 MB, and a third of the time lost. Arrays
 * made by `new Array(n)` and by builtins (slice, map, filter) and instances of classes are not
 * switched.
 */

/** the items with `item` put in at `index` */
export const inserted = <A>(items: ReadonlyArray<A>, index: number, item: A): Array<A> => {
  const copy = new Array<A>(items.length + 1)
  for (let i = 0; i < index; i++) copy[i] = items[i] as A
  copy[index] = item
  for (let i = index; i < items.length; i++) copy[i + 1] = items[i] as A
  return copy
}

/** the items with `item` at the end */
export const appended = <A>(items: ReadonlyArray<A>, item: A): Array<A> => inserted(items, items.length, item)

/** the items with the one at `index` replaced */
export const replaced = <A>(items: ReadonlyArray<A>, index: number, item: A): Array<A> => {
  const copy = items.slice()
  copy[index] = item
  return copy
}

/** the items without the one at `index` */
export const removed = <A>(items: ReadonlyArray<A>, index: number): Array<A> => {
  const copy = new Array<A>(items.length - 1)
  for (let i = 0; i < index; i++) copy[i] = items[i] as A
  for (let i = index + 1; i < items.length; i++) copy[i - 1] = items[i] as A
  return copy
}

/** a one-item array, without a literal (see above) */
export const single = <A>(item: A): Array<A> => {
  const array = new Array<A>(1)
  array[0] = item
  return array
}

/** a two-item array, without a literal (see above) */
export const pair = <A>(first: A, second: A): Array<A> => {
  const array = new Array<A>(2)
  array[0] = first
  array[1] = second
  return array
}
