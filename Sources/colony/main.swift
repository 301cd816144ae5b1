import CollatzKernel
import ColonyCLI
import MandelbrotKernel
import MersenneKernel
import MonteCarloPiKernel
import PrimesKernel

ColonyCLI.main(kernels: [
    MersenneKernel.self, PrimesKernel.self, MandelbrotKernel.self, CollatzKernel.self, MonteCarloPiKernel.self,
])
