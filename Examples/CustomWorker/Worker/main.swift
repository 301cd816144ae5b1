// A worker of one's own: the whole colony command line with a custom kernel compiled in.
//     swift run custom-worker kernels
//     swift run custom-worker run Examples/CustomWorker/squares.json
import ColonyCLI
import SquaresKernel

ColonyCLI.main(kernels: [SquaresKernel.self])
