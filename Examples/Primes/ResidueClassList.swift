/// Sieving primes kept apart by residue class modulo 30, so that each class runs its own specialised loop.
///
/// Storage is allocated once for all primes that may join and freed by `deallocate()`.
struct ResidueClassList<Prime> {
    private let storage: UnsafeMutablePointer<Prime>
    /// Where each class starts in `storage` (8 entries), then how many primes it holds (8 entries). Plain memory
    /// rather than arrays: appending is on the path of every new sieving prime of every unit.
    private let bounds: UnsafeMutablePointer<Int>

    /// Room for `capacities[c]` primes of residue class `c`, for c in 0...7.
    init(capacities: [Int]) {
        bounds = .allocate(capacity: 16)
        var start = 0
        for c in 0..<8 {
            (bounds + c).initialize(to: start)
            (bounds + 8 + c).initialize(to: 0)
            start += capacities[c]
        }
        storage = .allocate(capacity: max(1, start))
    }

    /// Frees the storage; the list must not be used afterwards.
    func deallocate() {
        storage.deallocate()
        bounds.deallocate()
    }

    /// Appends a prime of residue class `c` (0...7); there must be room for it.
    @inline(__always)
    func append(_ prime: Prime, inClass c: Int) {
        (storage + (bounds[c] &+ bounds[8 &+ c])).initialize(to: prime)
        bounds[8 &+ c] &+= 1
    }

    /// The primes of residue class `c` (0...7).
    func primes(inClass c: Int) -> UnsafeMutableBufferPointer<Prime> {
        UnsafeMutableBufferPointer(start: storage + bounds[c], count: bounds[8 + c])
    }
}

/// A residue class of primes modulo 30, as a type, so that each class gets its own specialised copy of the
/// crossing loops with constant masks and carries.
protocol PrimeResidue {
    /// The residue, one of 1, 7, 11, 13, 17, 19, 23, 29.
    static var r: Int { get }
}

enum Residue1: PrimeResidue { static var r: Int { 1 } }
enum Residue7: PrimeResidue { static var r: Int { 7 } }
enum Residue11: PrimeResidue { static var r: Int { 11 } }
enum Residue13: PrimeResidue { static var r: Int { 13 } }
enum Residue17: PrimeResidue { static var r: Int { 17 } }
enum Residue19: PrimeResidue { static var r: Int { 19 } }
enum Residue23: PrimeResidue { static var r: Int { 23 } }
enum Residue29: PrimeResidue { static var r: Int { 29 } }
