import type { NamespaceTable } from "./namespaces.ts"
import { cachedLinkIndex, linkIndex, retryIfStale } from "./links.ts"
import { AF_INET, IFA, NLM_F_CREATE, NLM_F_EXCL, RTM } from "./netlink/constants.ts"
import { attrIpv4, ifaddrmsg, parseCidr } from "./netlink/wire.ts"

/** IPv4 needs IFA_LOCAL (IFA_ADDRESS alone is EINVAL); IFA_ADDRESS equal to it means "no peer" */
const addressBody = (index: number, cidr: string): Buffer[] => {
  const { address, prefixLength } = parseCidr(cidr)
  return [ifaddrmsg({ family: AF_INET, prefixLength, index }), attrIpv4(IFA.LOCAL, address), attrIpv4(IFA.ADDRESS, address)]
}

export const addrAdd = (namespaces: NamespaceTable, ns: string, dev: string, cidr: string): void =>
  void retryIfStale(namespaces, ns, ["ENODEV"], () =>
    namespaces
      .channel(ns)
      .request(RTM.NEWADDR, NLM_F_CREATE | NLM_F_EXCL, addressBody(cachedLinkIndex(namespaces, ns, dev), cidr), `add address ${cidr} to ${dev}`),
  )

export const addrDel = (namespaces: NamespaceTable, ns: string, dev: string, cidr: string): void => {
  const body = addressBody(linkIndex(namespaces, ns, dev), cidr)
  namespaces.channel(ns).request(RTM.DELADDR, 0, body, `delete address ${cidr} from ${dev}`)
}
