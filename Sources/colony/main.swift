import CollatzKernel
import ColonyCLI
import MandelbrotKernel
import MonteCarloPiKernel

ColonyCLI.main(kernels: [MandelbrotKernel.self, CollatzKernel.self, MonteCarloPiKernel.self])
