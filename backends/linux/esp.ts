import { execFile } from "node:child_process"
import type { FeatureCheck } from "./capabilities.ts"

/**
 * Whether the kernel takes the IPsec ESP state Docker's encrypted overlay installs between two
 * hosts: transport mode, AEAD rfc4106(gcm(aes)) with a 64-bit ICV, Docker's reqid 0xD0C4E3.
 * Tried for real inside a scratch namespace of ours with iproute2 (`ip -n NS xfrm state add`):
 * the backend speaks rtnetlink only, and this is one request made once per process. A kernel
 * without ESP or without the AEAD refuses it ("Requested AEAD algorithm not found" here).
 */
const ESP_STATE = [
  "xfrm", "state", "add",
  "src", "192.0.2.1", "dst", "192.0.2.2",
  "proto", "esp", "spi", "0x00000100", "reqid", "0xd0c4e3", "mode", "transport",
  "aead", "rfc4106(gcm(aes))", "0x000102030405060708090a0b0c0d0e0f10111213", "64",
]

export const probeEsp = (ns: string): Promise<FeatureCheck> =>
  new Promise((resolve) => {
    execFile("ip", ["-n", ns, ...ESP_STATE], { timeout: 5000 }, (error, _stdout, stderr) => {
      if (error === null) resolve({ ok: true, detail: "ESP transport-mode state rfc4106(gcm(aes)) installed" })
      else if ((error as NodeJS.ErrnoException).code === "ENOENT") resolve({ ok: false, detail: "ip (iproute2) is not installed: cannot try ESP states" })
      else resolve({ ok: false, detail: `ESP state refused: ${stderr.trim() || error.message}` })
    })
  })
