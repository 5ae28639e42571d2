/**
 * Copies of small arrays with one slot changed, allocated once at their final size: the model's
 * persistent structures copy a few such arrays per operation, and they are most of its garbage
 * (slice-then-splice or slice-then-push allocates twice, concat is slow in V8).
 *
 * No object or array literals for the records the hot path builds again and again (endpoints,
 * container and network records, address books, trie nodes: those are classes). V8 watches the
 * allocation site of each literal (and of each `new Array`), and a site whose objects all
 * survived a young collection, as the standing containers a lab starts with do, is switched to
 * allocating in the old generation for good. That site then fills the old generation with the
 * short-lived copies of every later operation, which also keep the young objects they point to
 * alive. Measured on the controller benchmark: 0.8 MB promoted per young collection instead of
 * 0.1 MB, and the model alone at half its speed. Instances of classes and arrays made by
 * builtins (slice, map, filter) are never switched. The `new Array` below is shared by every
 * structure of the model, most of whose arrays die young, which keeps it young (checked with
 * node --trace-pretenuring-statistics on the benchmark).
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
