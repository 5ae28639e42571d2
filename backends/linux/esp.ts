import type { XfrmStateSpec } from "../kernel-types.ts"
import type { NetnsAddon } from "./addon.ts"
import type { FeatureCheck } from "./capabilities.ts"
import { toKernelError } from "./errors.ts"
import type { NamespaceTable } from "./namespaces.ts"
import { xfrmStateAdd } from "./xfrm.ts"

/**
 * Whether the kernel takes the IPsec ESP state Docker's encrypted overlay installs between two
 * hosts: transport mode, AEAD rfc4106(gcm(aes)) with a 64-bit ICV, Docker's reqid 0xD0C4E3.
 * Tried for real with XFRM_MSG_NEWSA inside a scratch namespace of ours. A kernel without ESP or
 * without the AEAD refuses it: here ENOSYS, "Requested AEAD algorithm not found" (no
 * CONFIG_INET_ESP, no CONFIG_CRYPTO_GCM).
 */
const ESP_STATE: XfrmStateSpec = {
  src: "192.0.2.1",
  dst: "192.0.2.2",
  proto: "esp",
  spi: 0x100,
  mode: "transport",
  reqid: 0xd0c4e3,
  aead: { name: "rfc4106(gcm(aes))", key: "000102030405060708090a0b0c0d0e0f10111213", icvBits: 64 },
}

export const probeEsp = (native: NetnsAddon, namespaces: NamespaceTable, ns: string): FeatureCheck => {
  try {
    xfrmStateAdd(native, namespaces, ns, ESP_STATE)
    return { ok: true, detail: "ESP transport-mode state rfc4106(gcm(aes)) installed" }
  } catch (error) {
    const refused = toKernelError(error)
    return { ok: false, detail: `ESP state refused: ${refused.errno ?? refused.reason}: ${refused.detail}` }
  }
}
