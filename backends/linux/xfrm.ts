import type { XfrmDirection, XfrmMark, XfrmPolicySpec, XfrmSelector, XfrmStateSpec } from "../kernel-types.ts"
import type { NetnsAddon } from "./addon.ts"
import type { NamespaceTable } from "./namespaces.ts"
import { NetlinkChannel } from "./netlink/channel.ts"
import { NLM_F_CREATE, NLM_F_EXCL } from "./netlink/constants.ts"
import {
  NETLINK_XFRM,
  newPolicyBody,
  newStateBody,
  parsePolicy,
  parseState,
  policyDumpBody,
  policyIdBody,
  stateDumpBody,
  stateIdBody,
  XFRM_MSG,
} from "./netlink/xfrm-wire.ts"

/**
 * xfrm states and policies over NETLINK_XFRM, inside a namespace of ours. The socket is opened
 * for the request and closed after it: xfrm work is a few requests per pair of hosts, and a socket
 * kept open would pin the namespace past its deletion (namespaces.ts).
 */
const withXfrm = <T>(native: NetnsAddon, namespaces: NamespaceTable, ns: string, fn: (channel: NetlinkChannel) => T): T => {
  const channel = new NetlinkChannel(native, namespaces.path(ns), NETLINK_XFRM)
  try {
    return fn(channel)
  } finally {
    channel.close()
  }
}

export const xfrmStateAdd = (native: NetnsAddon, namespaces: NamespaceTable, ns: string, state: XfrmStateSpec): void =>
  void withXfrm(native, namespaces, ns, (c) =>
    c.request(XFRM_MSG.NEWSA, NLM_F_CREATE | NLM_F_EXCL, newStateBody(state), `xfrm state add ${state.src} -> ${state.dst} spi ${state.spi}`),
  )

export const xfrmStateDel = (native: NetnsAddon, namespaces: NamespaceTable, ns: string, dst: string, spi: number, mark?: XfrmMark): void =>
  void withXfrm(native, namespaces, ns, (c) => c.request(XFRM_MSG.DELSA, 0, stateIdBody(dst, spi, mark), `xfrm state del ${dst} spi ${spi}`))

export const xfrmPolicyAdd = (native: NetnsAddon, namespaces: NamespaceTable, ns: string, policy: XfrmPolicySpec): void =>
  void withXfrm(native, namespaces, ns, (c) =>
    c.request(
      XFRM_MSG.NEWPOLICY,
      NLM_F_CREATE | NLM_F_EXCL,
      newPolicyBody(policy),
      `xfrm policy add ${policy.dir} ${policy.selector.src} -> ${policy.selector.dst}`,
    ),
  )

export const xfrmPolicyDel = (
  native: NetnsAddon,
  namespaces: NamespaceTable,
  ns: string,
  selector: XfrmSelector,
  dir: XfrmDirection,
  mark?: XfrmMark,
): void =>
  void withXfrm(native, namespaces, ns, (c) =>
    c.request(XFRM_MSG.DELPOLICY, 0, policyIdBody(selector, dir, mark), `xfrm policy del ${dir} ${selector.src} -> ${selector.dst}`),
  )

/** `ip xfrm state` and `ip xfrm policy`, as far as the Kernel interface describes them */
export const readXfrm = (
  native: NetnsAddon,
  namespaces: NamespaceTable,
  ns: string,
): { readonly states: Array<XfrmStateSpec>; readonly policies: Array<XfrmPolicySpec> } =>
  withXfrm(native, namespaces, ns, (c) => ({
    states: c
      .dump(XFRM_MSG.GETSA, stateDumpBody(), "xfrm state dump")
      .map((m) => parseState(m.payload))
      .filter((s): s is XfrmStateSpec => s !== undefined),
    policies: c
      .dump(XFRM_MSG.GETPOLICY, policyDumpBody(), "xfrm policy dump")
      .map((m) => parsePolicy(m.payload))
      .filter((p): p is XfrmPolicySpec => p !== undefined),
  }))
