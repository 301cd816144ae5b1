/// Primes by the sieve of Eratosthenes: the exponents to test and the trial-factoring sieve's primes.
enum SmallPrimes {
    /// The primes p with `from` ≤ p < `below`, ascending; `below` must be small enough to sieve (≤ 10^8).
    static func primes(from: Int = 2, below: Int) -> [Int] {
        guard below > 2 else { return [] }
        var composite = [Bool](repeating: false, count: below)
        var result = [Int]()
        var n = 2
        while n < below {
            if !composite[n] {
                if n >= from { result.append(n) }
                if n <= (below - 1) / n {
                    var multiple = n * n
                    while multiple < below {
                        composite[multiple] = true
                        multiple += n
                    }
                }
            }
            n += 1
        }
        return result
    }

    /// Whether n is prime, by trial division (for exponents up to a few million).
    static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        if n < 4 { return true }
        if n % 2 == 0 { return false }
        var d = 3
        while d <= n / d {
            if n % d == 0 { return false }
            d += 2
        }
        return true
    }
}
