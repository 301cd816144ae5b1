import CollatzKernel
import ColonyCLI
import MandelbrotKernel
import MonteCarloPiKernel
import PrimesKernel

ColonyCLI.main(kernels: [PrimesKernel.self, MandelbrotKernel.self, CollatzKernel.self, MonteCarloPiKernel.self])
