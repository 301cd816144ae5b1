import CollatzKernel
import ColonyCLI
import MonteCarloPiKernel

ColonyCLI.main(kernels: [CollatzKernel.self, MonteCarloPiKernel.self])
