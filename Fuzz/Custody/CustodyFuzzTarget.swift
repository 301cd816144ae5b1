// libFuzzer entry for what custodians read off the network: custody records, custodian set changes, manifests and
// frames of records, and the ledger's admission of them. .ci/fuzz-custody compiles it as one module with ColonyCore,
// Endpoint, ColonyKernel and ColonyWork's jobs and custody (imports stripped). Any broken property traps, and
// libFuzzer keeps the input.
import Foundation

/// A fixed job every input is checked against: three custodians, one shard of 8 units.
private let fixture: (manifest: JobManifest, keys: [Identity], worker: Identity) = {
    let keys = (0..<3).map { _ in Identity(privateKey: Ed25519PrivateKey()) }
    let members = keys.enumerated().map {
        CustodianMember(key: $1.publicKey, endpoint: Endpoint(address: 0x0A00_0001 + UInt32($0), port: 7000))
    }
    let spec = JobSpec(kernel: "tally", title: "fuzz", parameters: [:], redundancy: Redundancy(), leaseSeconds: 60)
    let manifest = try! JobManifest.signed(
        spec: spec, kernelVersion: 1, units: (0..<8).map { Data([UInt8($0)]) }, by: keys[0],
        custody: { _, shards in JobCustody.same(members, shards: shards) })
    return (manifest, keys, Identity(privateKey: Ed25519PrivateKey()))
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func custodyFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: size > 0 ? data : nil, count: size))
    checkCustodyProperties(bytes)
    return 0
}

private func check(_ condition: Bool, _ property: @autoclosure () -> String) {
    if !condition { fatalError("custody fuzz: \(property())") }
}

private func checkCustodyProperties(_ bytes: [UInt8]) {
    // A manifest from arbitrary bytes: refused, or canonical and signed.
    if let manifest = try? JobManifest(decoding: bytes) {
        check(manifest.encoded() == bytes, "a manifest decoded from bytes it does not encode to")
        check(manifest.custody.sets.count == manifest.shardCount, "a manifest without one custodian set per shard")
    }
    guard let value = try? BencodeDecoder(limits: .frame).decode(bytes) else { return }
    let now: Int64 = 1_800_000_000_000
    var ledger = ShardLedger(manifest: fixture.manifest, shard: 0)
    var custodian = Custodian(identity: fixture.keys[1])
    custodian.add(fixture.manifest)
    // A value as one record, one change, or a list of them (a co_merge payload).
    let items = value.list ?? [value]
    var records: [CustodyRecord] = []
    for item in items.prefix(64) {
        if let record = try? CustodyRecord(item) {
            check(record.value.encoded() == item.encoded(), "a record that does not re-encode to its bytes")
            records.append(record)
            // Nothing unsigned, outside its shard or without authority gets in.
            if (try? ledger.admit(record, id: record.id, now: now, submitted: false)) == true {
                check(record.isSignatureValid, "an admitted record whose signature does not verify")
                if record.kind == .lease {
                    check(ledger.authority.isMember(record.author, at: record.epoch), "a lease admitted from a non-custodian")
                }
            }
            _ = try? custodian.submit(record, now: now)
        }
        if let change = try? CustodySetChange(item) {
            check(change.encoded() == item.encoded(), "a set change that does not re-encode to its bytes")
            if (try? ledger.admit(change)) == true {
                check(change.validSigners(among: fixture.manifest.custody.members(ofShard: 0)).count >= 2, "a change admitted without a majority")
            }
        }
    }
    _ = custodian.merge(records, now: now)
    // Whatever got in, verdicts are computed without trapping, and a validated unit has an independent quorum.
    for verdict in ledger.verdicts(now: now, equivalent: { $0 == $1 }) where verdict.state == .validated {
        check(Set(verdict.custodians).count >= 2, "a unit validated without two custodians")
    }
    _ = custodian.verdicts(ShardRef(job: fixture.manifest.id, shard: 0), now: now)
    _ = custodian.partners(ShardRef(job: fixture.manifest.id, shard: 0), worker: fixture.worker.publicKey)
}
