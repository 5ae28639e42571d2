/**
 * rtnetlink numbers from the kernel's uapi headers (linux/netlink.h, linux/rtnetlink.h,
 * linux/if_link.h, linux/neighbour.h, linux/net_namespace.h). Only what cnmlab sends or reads.
 */

export const AF_UNSPEC = 0
export const AF_INET = 2
export const AF_BRIDGE = 7

// nlmsghdr.nlmsg_type: control messages
export const NLMSG_ERROR = 2
export const NLMSG_DONE = 3

// nlmsghdr.nlmsg_flags
export const NLM_F_REQUEST = 0x1
export const NLM_F_MULTI = 0x2
export const NLM_F_ACK = 0x4
export const NLM_F_DUMP = 0x300
export const NLM_F_REPLACE = 0x100
export const NLM_F_EXCL = 0x200
export const NLM_F_CREATE = 0x400
export const NLM_F_APPEND = 0x800
/** on an NLMSG_ERROR: extended-ACK attributes follow the (capped) request header */
export const NLM_F_ACK_TLVS = 0x200
/** on an NLMSG_ERROR: only the request's header is echoed (NETLINK_CAP_ACK) */
export const NLM_F_CAPPED = 0x100

// nlmsgerr attributes (NETLINK_EXT_ACK)
export const NLMSGERR_ATTR_MSG = 1

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNEIGH: 28,
  DELNEIGH: 29,
  GETNEIGH: 30,
  NEWNSID: 88,
  GETNSID: 90,
} as const

export const IFF_UP = 0x1
export const IFF_LOWER_UP = 0x10000
export const ARPHRD_LOOPBACK = 772

export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  OPERSTATE: 16,
  LINKINFO: 18,
  GROUP: 27,
  NET_NS_FD: 28,
  EXT_MASK: 29,
  NUM_TX_QUEUES: 31,
  NUM_RX_QUEUES: 32,
  LINK_NETNSID: 37,
} as const

export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const
/** IFLA_BRPORT_STATE inside a bridge port's IFLA_INFO_SLAVE_DATA, and its values (BR_STATE_*) */
export const IFLA_BRPORT_STATE = 1
export const BR_STATE = { disabled: 0, listening: 1, learning: 2, forwarding: 3, blocking: 4 } as const
/** RFC 2863 operational state, as IFLA_OPERSTATE reports it */
export const IF_OPER = { unknown: 0, down: 2, up: 6 } as const
export const VETH_INFO_PEER = 1
export const IFLA_VXLAN = { ID: 1, LINK: 3, LOCAL: 4, LEARNING: 7, PROXY: 11, PORT: 15 } as const
export const IFLA_VLAN_ID = 1
export const IFLA_MACVLAN_MODE = 1
export const MACVLAN_MODE = { private: 1, vepa: 2, bridge: 4, passthru: 8 } as const
export const IFLA_IPVLAN = { MODE: 1, FLAGS: 2 } as const
export const IPVLAN_MODE = { l2: 0, l3: 1, l3s: 2 } as const
export const IPVLAN_FLAG = { bridge: 0, private: 1, vepa: 2 } as const

export const IFA = { ADDRESS: 1, LOCAL: 2 } as const

export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, TABLE: 15 } as const
export const RT_TABLE_MAIN = 254
export const RT_SCOPE = { universe: 0, link: 253, host: 254, nowhere: 255 } as const
export const RTPROT_KERNEL = 2
/** what `ip route add` marks its routes with */
export const RTPROT_BOOT = 3
export const RTN_UNICAST = 1
export const RTN_LOCAL = 2

export const NDA = { DST: 1, LLADDR: 2, MASTER: 9 } as const
export const NUD = { INCOMPLETE: 0x01, REACHABLE: 0x02, STALE: 0x04, FAILED: 0x20, NOARP: 0x40, PERMANENT: 0x80 } as const
export const NTF = { SELF: 0x2, MASTER: 0x4 } as const

export const NETNSA = { NSID: 1, FD: 3 } as const
