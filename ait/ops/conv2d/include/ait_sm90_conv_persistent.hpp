// ait: a persistent, cooperative CUTLASS 3.x Hopper conv fprop kernel (TMA im2col + wgmma).
//
// Why: CUTLASS 4.2 has one sm90 conv kernel schedule, KernelImplicitTmaWarpSpecializedSm90, and
// it is not persistent (cutlass/conv/kernel/sm90_implicit_gemm_tma_warpspecialized.hpp maps
// ConvUniversal onto the non-persistent cutlass/gemm/kernel/sm90_gemm_tma_warpspecialized.hpp);
// cutlass/conv/dispatch_policy.hpp refuses the Cooperative / Pingpong conv schedules (an is_same
// static_assert: "not supported yet"). A 3x3 conv with C = 64 has only 9 k-tiles per output
// tile, so with one tile per CTA the prologue, the pipeline fill and the epilogue are exposed.
//
// What is ours here is kernel-level glue only; CUTLASS's collectives, pipelines and tile
// scheduler do all the work:
// - KernelImplicitTmaWarpSpecializedSm90PersistentCooperative: a schedule tag derived from
//   cutlass::gemm::KernelTmaWarpSpecializedCooperative (what the cooperative kernel and its
//   scheduler selector read) but a type of its own, so the conv dispatch policy's is_same check
//   passes.
// - Sm90ConvFpropCooperativeMainloop: the mainloop type that the conv collective builder
//   (cutlass/conv/collective/builders/sm90_gmma_builder.inl, GMMA_TMA_WS_SS_FPROP) would build,
//   fprop only, with the 2x1x1 warpgroup layout it picks for the cooperative tag: CUTLASS's own
//   CollectiveConv<MainloopSm90TmaGmmaWarpSpecializedImplicitGemm<...>> (im2col TMA for A).
// - Sm90ConvFpropPersistentCooperative: the cooperative GemmUniversal of
//   cutlass/gemm/kernel/sm90_gemm_tma_warpspecialized_cooperative.hpp with the conv
//   problem-shape handling of
//   cutlass/gemm/kernel/sm90_gemm_tma_warpspecialized.hpp (IsConvProblemShape): Params hold the
//   linearized (M, N, (C,S,R), 1) shape from get_problem_shape_MNKL_helper, the mainloop gets the
//   ConvProblemShape, the epilogue the transformed shape ((Q,P,N), K, (C,S,R), 1) from
//   get_transformed_problem_shape_MNKL, and load_init's rank-4 tensors have no L mode (l = 0).
//   Left out of the cooperative kernel: the dynamic (CLC) scheduler, stream-K fixup and the
//   auxiliary mainloop load; the scheduler is PersistentTileSchedulerSm90 (static persistent,
//   no workspace; the size is still computed and reported, and initialize_workspace is called).
//   Kept: programmatic dependent launch. Every warp that touches global memory waits first
//   (cutlass::arch::wait_on_dependent_grids): the mainloop producer and the epilogue producer,
//   as in CUTLASS, and here also the consumer warpgroups (bias loads and D stores; CUTLASS relies
//   on them following the producer's loads) -- they would wait for the first stage anyway. The
//   static scheduler reads only kernel parameters. launch_dependent_grids is issued, as in
//   CUTLASS, once the consumer's last tile's mainloop is done.
// An include guard rather than #pragma once: the templates inline this file (a jinja include, so
// that its text is part of every kernel's source and object-cache key) into the main file.
#ifndef AIT_SM90_CONV_PERSISTENT_HPP
#define AIT_SM90_CONV_PERSISTENT_HPP

#include "cutlass/cutlass.h"
#include "cutlass/workspace.h"
#include "cutlass/fast_math.h"
#include "cutlass/kernel_hardware_info.hpp"
#include "cute/tensor.hpp"
#include "cute/arch/cluster_sm90.hpp"
#include "cutlass/arch/reg_reconfig.h"
#include "cutlass/arch/mma_sm90.h"
#include "cutlass/arch/grid_dependency_control.h"
#include "cutlass/conv/convolution.h"
#include "cutlass/conv/convnd_problem_shape.hpp"
#include "cutlass/conv/detail.hpp"
#include "cutlass/conv/dispatch_policy.hpp"
#include "cutlass/conv/collective/collective_builder.hpp"
#include "cutlass/gemm/dispatch_policy.hpp"
#include "cutlass/gemm/kernel/tile_scheduler.hpp"
#include "cutlass/gemm/kernel/sm90_tile_scheduler.hpp"
#include "cutlass/pipeline/pipeline.hpp"

namespace ait::conv {

struct KernelImplicitTmaWarpSpecializedSm90PersistentCooperative
    : cutlass::gemm::KernelTmaWarpSpecializedCooperative {};

// As CollectiveBuilder<Sm90, OpClassTensorOp, kFprop, ...> of sm90_gmma_builder.inl for
// KernelImplicitTmaWarpSpecializedSm90Cooperative (AtomLayoutMNK 2x1x1), fprop, K-major A and B.
template <class ElementA, class ElementB, class GmemLayout, int Alignment, class ElementAccumulator,
          class TileShape_MNK, class ClusterShape_MNK, class StageCountType>
struct Sm90ConvFpropCooperativeMainloop {
  static_assert(cute::is_static<TileShape_MNK>::value);
  static_assert(cute::is_static<ClusterShape_MNK>::value);
  static_assert(cutlass::gemm::collective::detail::is_aligned<
                    ElementA, Alignment, ElementB, Alignment,
                    cutlass::gemm::collective::detail::tma_alignment_bytes>(),
                "Should meet TMA alignment requirement");
  static_assert(!cute::is_same_v<ElementA, float> && !cute::is_same_v<ElementB, float>,
                "fp16 / bf16 operands only");

  static constexpr cutlass::conv::Operator ConvOp = cutlass::conv::Operator::kFprop;
  static constexpr cute::GMMA::Major GmmaMajorA = cute::GMMA::Major::K;
  static constexpr cute::GMMA::Major GmmaMajorB = cute::GMMA::Major::K;

  using AtomLayoutMNK = cute::Layout<cute::Shape<cute::_2, cute::_1, cute::_1>>;
  using TiledMma = decltype(cute::make_tiled_mma(
      cute::GMMA::ss_op_selector<ElementA, ElementB, ElementAccumulator, TileShape_MNK,
                                 GmmaMajorA, GmmaMajorB>(),
      AtomLayoutMNK{}));

  using GmemTiledCopyA = decltype(cutlass::conv::collective::detail::
                                      sm90_cluster_shape_to_im2col_tma_atom(
                                          cute::shape<1>(ClusterShape_MNK{})));
  using GmemTiledCopyB = decltype(cutlass::gemm::collective::detail::
                                      sm90_cluster_shape_to_tma_atom(
                                          cute::shape<0>(ClusterShape_MNK{})));

  using SmemLayoutAtomA = decltype(cutlass::gemm::collective::detail::ss_smem_selector<
      GmmaMajorA, ElementA, decltype(cute::get<0>(TileShape_MNK{})),
      decltype(cute::get<2>(TileShape_MNK{}))>());
  using SmemLayoutAtomB = decltype(cutlass::gemm::collective::detail::ss_smem_selector<
      GmmaMajorB, ElementB, decltype(cute::get<1>(TileShape_MNK{})),
      decltype(cute::get<2>(TileShape_MNK{}))>());

  static constexpr int PipelineStages =
      cutlass::conv::collective::detail::compute_stage_count_or_override<
          cutlass::gemm::collective::detail::sm90_smem_capacity_bytes, ElementA, ElementB,
          TileShape_MNK>(StageCountType{});

  using SmemLayoutA = decltype(cute::tile_to_shape(
      SmemLayoutAtomA{},
      cute::make_shape(cute::shape<0>(TileShape_MNK{}), cute::shape<2>(TileShape_MNK{}),
                       cute::Int<PipelineStages>{}),
      cute::Step<cute::_2, cute::_1, cute::_3>{}));
  using SmemLayoutB = decltype(cute::tile_to_shape(
      SmemLayoutAtomB{},
      cute::make_shape(cute::shape<1>(TileShape_MNK{}), cute::shape<2>(TileShape_MNK{}),
                       cute::Int<PipelineStages>{}),
      cute::Step<cute::_2, cute::_1, cute::_3>{}));

  static constexpr int NumSpatialDimensions =
      cutlass::conv::collective::detail::gmem_layout_tags_to_spatial_dims<GmemLayout,
                                                                          GmemLayout>();

  using DispatchPolicy = cutlass::conv::MainloopSm90TmaGmmaWarpSpecializedImplicitGemm<
      ConvOp, PipelineStages, NumSpatialDimensions, ClusterShape_MNK,
      KernelImplicitTmaWarpSpecializedSm90PersistentCooperative>;

  using CollectiveOp = cutlass::conv::collective::CollectiveConv<
      DispatchPolicy, TileShape_MNK, ElementA, ElementB, TiledMma,
      cutlass::conv::collective::detail::Sm90ImplicitGemmTileTraits<GmemTiledCopyA, SmemLayoutA>,
      cutlass::conv::collective::detail::Sm90ImplicitGemmTileTraits<GmemTiledCopyB, SmemLayoutB>>;
};

// The kernel: see the file comment. ProblemShape_ is cutlass::conv::ConvProblemShape<kFprop, N>.
template <class ProblemShape_, class CollectiveMainloop_, class CollectiveEpilogue_>
class Sm90ConvFpropPersistentCooperative {
 public:
  using ProblemShape = ProblemShape_;
  static_assert(!cute::is_tuple_v<ProblemShape>, "a ConvProblemShape, not a GEMM shape");

  // Mainloop derived types
  using CollectiveMainloop = CollectiveMainloop_;
  using TileShape = typename CollectiveMainloop::TileShape;
  using TiledMma = typename CollectiveMainloop::TiledMma;
  using ArchTag = typename CollectiveMainloop::ArchTag;
  using ElementA = typename CollectiveMainloop::ElementA;
  using StrideA = typename CollectiveMainloop::StrideA;
  using ElementB = typename CollectiveMainloop::ElementB;
  using StrideB = typename CollectiveMainloop::StrideB;
  using DispatchPolicy = typename CollectiveMainloop::DispatchPolicy;
  using ElementAccumulator = typename CollectiveMainloop::ElementAccumulator;
  using ClusterShape = typename DispatchPolicy::ClusterShape;
  using MainloopArguments = typename CollectiveMainloop::Arguments;
  using MainloopParams = typename CollectiveMainloop::Params;
  static_assert(cute::is_base_of_v<cutlass::gemm::KernelTmaWarpSpecializedCooperative,
                                   typename DispatchPolicy::Schedule>);
  static_assert(DispatchPolicy::ConvOp == cutlass::conv::Operator::kFprop);
  static_assert(ArchTag::kMinComputeCapability >= 90);

  // Epilogue derived types
  using CollectiveEpilogue = CollectiveEpilogue_;
  using ElementC = typename CollectiveEpilogue::ElementC;
  using StrideC = typename CollectiveEpilogue::StrideC;
  using ElementD = typename CollectiveEpilogue::ElementD;
  using StrideD = typename CollectiveEpilogue::StrideD;
  using EpilogueArguments = typename CollectiveEpilogue::Arguments;
  using EpilogueParams = typename CollectiveEpilogue::Params;

  // (M = Q*P*N, N = K, K = (C,S,R), L = 1), as Params::ProblemShapeMNKL of the non-persistent
  // kernel; the scheduler tiles M and N of it.
  using ProblemShapeMNKL = decltype(cutlass::conv::detail::get_problem_shape_MNKL_helper<
                                    CollectiveMainloop>(ProblemShape{}, cute::true_type{}));

  using TileScheduler = typename cutlass::gemm::kernel::detail::TileSchedulerSelector<
      cutlass::gemm::PersistentScheduler, ArchTag, TileShape, ClusterShape>::Scheduler;
  static_assert(cute::is_same_v<TileScheduler, cutlass::gemm::kernel::detail::PersistentTileSchedulerSm90>,
                "static persistent scheduler only (no stream-K fixup, no CLC pipeline here)");
  using TileSchedulerArguments = typename TileScheduler::Arguments;
  using TileSchedulerParams = typename TileScheduler::Params;

  static constexpr uint32_t NumMMAThreads = cute::size(TiledMma{});  // 2 warpgroups
  static constexpr uint32_t NumEpilogueLoadThreads = cutlass::NumThreadsPerWarp;
  static constexpr uint32_t NumLoadWarpGroups = 1;
  static constexpr uint32_t NumMmaWarpGroups = NumMMAThreads / cutlass::NumThreadsPerWarpGroup;
  static constexpr uint32_t MaxThreadsPerBlock =
      NumMMAThreads + (NumLoadWarpGroups * cutlass::NumThreadsPerWarpGroup);
  static constexpr uint32_t MinBlocksPerMultiprocessor = 1;

  // Register split of the cooperative kernel
  static constexpr int RegsPerThread = cute::size<0>(TileShape{}) * cute::size<1>(TileShape{}) /
                                       NumMMAThreads * sizeof(ElementAccumulator) /
                                       sizeof(uint32_t);
  static constexpr bool HeavyRegisterPressure = RegsPerThread >= 208;
  static constexpr uint32_t LoadRegisterRequirement = !HeavyRegisterPressure ? 40 : 24;
  static constexpr uint32_t MmaRegisterRequirement = !HeavyRegisterPressure ? 232 : 240;

  // 1 stage ordered sequence between mainloop and epilogue producer load threads
  using LoadWarpOrderBarrier = cutlass::OrderedSequenceBarrier<1, 2>;

  // Kernel level shared memory storage: mainloop and epilogue buffers side by side (a
  // persistent CTA runs the next tile's mainloop during this tile's epilogue).
  struct SharedStorage {
    struct PipelineStorage : cute::aligned_struct<16, cute::_1> {
      using MainloopPipelineStorage = typename CollectiveMainloop::PipelineStorage;
      using EpiLoadPipelineStorage = typename CollectiveEpilogue::PipelineStorage;

      alignas(16) MainloopPipelineStorage mainloop;
      alignas(16) EpiLoadPipelineStorage epi_load;
      alignas(16) typename LoadWarpOrderBarrier::SharedStorage load_order;
    } pipelines;

    struct TensorStorage : cute::aligned_struct<128, cute::_1> {
      using MainloopTensorStorage = typename CollectiveMainloop::TensorStorage;
      using EpilogueTensorStorage = typename CollectiveEpilogue::TensorStorage;

      EpilogueTensorStorage epilogue;
      MainloopTensorStorage mainloop;
    } tensors;
  };

  static constexpr int SharedStorageSize = sizeof(SharedStorage);
  static_assert(SharedStorageSize <= cutlass::gemm::collective::detail::sm90_smem_capacity_bytes,
                "mainloop stages + epilogue exceed shared memory");

  // Host side kernel arguments (as ConvUniversal's: problem, mainloop, epilogue, hardware)
  struct Arguments {
    ProblemShape problem_shape{};
    MainloopArguments mainloop{};
    EpilogueArguments epilogue{};
    cutlass::KernelHardwareInfo hw_info{};
    TileSchedulerArguments scheduler{};
  };

  // Kernel entry point API
  struct Params {
    ProblemShapeMNKL problem_shape{};
    MainloopParams mainloop{};
    EpilogueParams epilogue{};
    cutlass::KernelHardwareInfo hw_info{};
    TileSchedulerParams scheduler{};
    void* workspace{nullptr};
  };

  static ProblemShapeMNKL problem_shape_mnkl(ProblemShape const& problem_shape) {
    return cutlass::conv::detail::get_problem_shape_MNKL_helper<CollectiveMainloop>(
        problem_shape, cute::true_type{});
  }

  static size_t get_workspace_size(Arguments const& args) {
    constexpr uint32_t NumEpilogueSubTiles =
        CollectiveEpilogue::get_store_pipe_increment(TileShape{});
    auto transformed = cutlass::conv::detail::get_transformed_problem_shape_MNKL(args.problem_shape);
    size_t workspace_size = 0;
    workspace_size += CollectiveEpilogue::get_workspace_size(transformed, args.epilogue);
    workspace_size = cutlass::round_nearest(workspace_size, cutlass::MinWorkspaceAlignment);
    workspace_size += TileScheduler::template get_workspace_size<ProblemShapeMNKL, ElementAccumulator>(
        args.scheduler, problem_shape_mnkl(args.problem_shape), args.hw_info, NumMmaWarpGroups,
        NumEpilogueSubTiles);
    workspace_size = cutlass::round_nearest(workspace_size, cutlass::MinWorkspaceAlignment);
    return workspace_size;
  }

  static cutlass::Status initialize_workspace(Arguments const& args, void* workspace = nullptr,
                                              cudaStream_t stream = nullptr,
                                              cutlass::CudaHostAdapter* cuda_adapter = nullptr) {
    constexpr uint32_t NumEpilogueSubTiles =
        CollectiveEpilogue::get_store_pipe_increment(TileShape{});
    constexpr uint32_t NumAccumulatorMtxs = 1;
    auto transformed = cutlass::conv::detail::get_transformed_problem_shape_MNKL(args.problem_shape);
    uint8_t* workspace_ptr = reinterpret_cast<uint8_t*>(workspace);
    size_t workspace_offset = 0;
    cutlass::Status status = CollectiveEpilogue::initialize_workspace(
        transformed, args.epilogue, workspace_ptr + workspace_offset, stream, cuda_adapter);
    if (status != cutlass::Status::kSuccess) return status;
    workspace_offset += CollectiveEpilogue::get_workspace_size(transformed, args.epilogue);
    workspace_offset = cutlass::round_nearest(workspace_offset, cutlass::MinWorkspaceAlignment);
    return TileScheduler::template initialize_workspace<ProblemShapeMNKL, ElementAccumulator>(
        args.scheduler, workspace_ptr + workspace_offset, stream,
        problem_shape_mnkl(args.problem_shape), args.hw_info, NumMmaWarpGroups,
        NumEpilogueSubTiles, NumAccumulatorMtxs, cuda_adapter);
  }

  static Params to_underlying_arguments(Arguments const& args, void* workspace) {
    auto problem_shape = problem_shape_mnkl(args.problem_shape);
    auto transformed = cutlass::conv::detail::get_transformed_problem_shape_MNKL(args.problem_shape);

    int sm_count = args.hw_info.sm_count;
    if (sm_count <= 0) {
      sm_count = cutlass::KernelHardwareInfo::query_device_multiprocessor_count(args.hw_info.device_id);
    }
    int max_active_clusters = args.hw_info.max_active_clusters > 0 ? args.hw_info.max_active_clusters : 0;
    cutlass::KernelHardwareInfo hw_info{args.hw_info.device_id, sm_count, max_active_clusters};

    // Same workspace layout as get_workspace_size / initialize_workspace: epilogue, scheduler.
    uint8_t* workspace_ptr = reinterpret_cast<uint8_t*>(workspace);
    size_t workspace_offset = 0;
    void* epilogue_workspace = workspace_ptr + workspace_offset;
    workspace_offset += CollectiveEpilogue::get_workspace_size(transformed, args.epilogue);
    workspace_offset = cutlass::round_nearest(workspace_offset, cutlass::MinWorkspaceAlignment);
    void* scheduler_workspace = workspace_ptr + workspace_offset;

    constexpr uint32_t NumEpilogueSubTiles =
        CollectiveEpilogue::get_store_pipe_increment(TileShape{});
    TileSchedulerParams scheduler = TileScheduler::to_underlying_arguments(
        problem_shape, TileShape{}, ClusterShape{}, hw_info, args.scheduler, scheduler_workspace,
        NumEpilogueSubTiles);

    return {problem_shape,
            CollectiveMainloop::to_underlying_arguments(args.problem_shape, args.mainloop, nullptr),
            CollectiveEpilogue::to_underlying_arguments(transformed, args.epilogue, epilogue_workspace),
            hw_info,
            scheduler,
            workspace};
  }

  static bool can_implement(Arguments const& args) {
    auto transformed = cutlass::conv::detail::get_transformed_problem_shape_MNKL(args.problem_shape);
    bool implementable = CollectiveMainloop::can_implement(args.problem_shape, args.mainloop);
    implementable &= CollectiveEpilogue::can_implement(transformed, args.epilogue);
    implementable &= TileScheduler::can_implement(args.scheduler);
    return implementable;
  }

  // Persistent grid: min(tiles, SMs) CTAs (clusters rounded), from the SM count in Params.
  static dim3 get_grid_shape(Params const& params) {
    TileSchedulerArguments args{};
    if constexpr (!std::is_const_v<decltype(args.max_swizzle_size)>) {
      args.max_swizzle_size = 1 << params.scheduler.log_swizzle_size_;
    }
    args.raster_order = params.scheduler.raster_order_ == TileScheduler::RasterOrder::AlongN
                            ? TileScheduler::RasterOrderOptions::AlongN
                            : TileScheduler::RasterOrderOptions::AlongM;
    return TileScheduler::get_grid_shape(params.scheduler, params.problem_shape, TileShape{},
                                         ClusterShape{}, params.hw_info, args);
  }

  static dim3 get_block_shape() { return dim3(MaxThreadsPerBlock, 1, 1); }

  CUTLASS_DEVICE
  void operator()(Params const& params, char* smem_buf) {
    using namespace cute;
    using cutlass::NumThreadsPerWarp;
    using cutlass::NumThreadsPerWarpGroup;
    using cutlass::NumWarpsPerWarpGroup;

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    static_assert(NumMMAThreads == 256, "Cooperative kernel must have TiledMMA operating using 256 threads.");
    static_assert(size<0>(TileShape{}) >= 128,
                  "Cooperative kernel requires Tile Size to be greater than or equal to 128 along the M-dimension.");

    // Consumer0 and Consumer1 collaborate on the same tile
    enum class WarpGroupRole { Producer = 0, Consumer0 = 1, Consumer1 = 2 };
    enum class ProducerWarpRole { Mainloop = 0, Warp1 = 1, Epilogue = 2, Warp3 = 3 };

    SharedStorage& shared_storage = *reinterpret_cast<SharedStorage*>(smem_buf);

    int thread_idx = int(threadIdx.x);
    int lane_idx = cutlass::canonical_lane_idx();
    int warp_idx = cutlass::canonical_warp_idx_sync();
    int warp_idx_in_warp_group = warp_idx % NumWarpsPerWarpGroup;
    int warp_group_thread_idx = thread_idx % NumThreadsPerWarpGroup;
    int mma_thread_idx = thread_idx % NumMMAThreads;
    auto warp_group_role = WarpGroupRole(cutlass::canonical_warp_group_idx());
    auto producer_warp_role = ProducerWarpRole(warp_idx_in_warp_group);
    int lane_predicate = cute::elect_one_sync();
    uint32_t block_rank_in_cluster = cute::block_rank_in_cluster();

    // Issue Tma Descriptor Prefetch from a single thread (the descriptors live in the kernel
    // parameters, not in memory a prior grid writes)
    if ((warp_idx == 0) && lane_predicate) {
      CollectiveMainloop::prefetch_tma_descriptors(params.mainloop);
      CollectiveEpilogue::prefetch_tma_descriptors(params.epilogue);
    }

    CollectiveEpilogue collective_epilogue(params.epilogue, shared_storage.tensors.epilogue);
    bool is_epi_load_needed = collective_epilogue.is_producer_load_needed();

    // Mainloop Load pipeline
    using MainloopPipeline = typename CollectiveMainloop::MainloopPipeline;
    typename MainloopPipeline::Params mainloop_pipeline_params;
    if (warp_group_role == WarpGroupRole::Producer && producer_warp_role == ProducerWarpRole::Mainloop) {
      mainloop_pipeline_params.role = MainloopPipeline::ThreadCategory::Producer;
    }
    if (warp_group_role == WarpGroupRole::Consumer0 || warp_group_role == WarpGroupRole::Consumer1) {
      mainloop_pipeline_params.role = MainloopPipeline::ThreadCategory::Consumer;
    }
    mainloop_pipeline_params.is_leader = warp_group_thread_idx == 0;
    mainloop_pipeline_params.num_consumers = NumMMAThreads;
    mainloop_pipeline_params.num_producers = 1;  // the conv mainloop: one producer thread
    mainloop_pipeline_params.transaction_bytes = params.mainloop.tma_transaction_bytes;
    MainloopPipeline mainloop_pipeline(shared_storage.pipelines.mainloop, mainloop_pipeline_params, ClusterShape{});

    // Epilogue Load pipeline
    using EpiLoadPipeline = typename CollectiveEpilogue::LoadPipeline;
    typename EpiLoadPipeline::Params epi_load_pipeline_params;
    if (warp_group_role == WarpGroupRole::Producer && producer_warp_role == ProducerWarpRole::Epilogue) {
      epi_load_pipeline_params.role = EpiLoadPipeline::ThreadCategory::Producer;
    }
    if (warp_group_role == WarpGroupRole::Consumer0 || warp_group_role == WarpGroupRole::Consumer1) {
      epi_load_pipeline_params.role = EpiLoadPipeline::ThreadCategory::Consumer;
    }
    epi_load_pipeline_params.dst_blockid = cute::block_rank_in_cluster();
    epi_load_pipeline_params.producer_arv_count = NumEpilogueLoadThreads;
    epi_load_pipeline_params.consumer_arv_count = NumMMAThreads;
    if constexpr (CollectiveEpilogue::RequiresTransactionBytes) {
      epi_load_pipeline_params.transaction_bytes = params.epilogue.tma_transaction_bytes;
    }
    EpiLoadPipeline epi_load_pipeline(shared_storage.pipelines.epi_load, epi_load_pipeline_params);

    // Epilogue Store pipeline
    using EpiStorePipeline = typename CollectiveEpilogue::StorePipeline;
    typename EpiStorePipeline::Params epi_store_pipeline_params;
    epi_store_pipeline_params.always_wait = true;
    EpiStorePipeline epi_store_pipeline(epi_store_pipeline_params);

    typename LoadWarpOrderBarrier::Params params_load_order_barrier;
    params_load_order_barrier.group_id = producer_warp_role == ProducerWarpRole::Mainloop ? 0 : 1;
    params_load_order_barrier.group_size = NumThreadsPerWarp;
    LoadWarpOrderBarrier load_order_barrier(shared_storage.pipelines.load_order, params_load_order_barrier);

    // Initialize starting pipeline states for the collectives
    // Epilogue store pipe is producer-only (consumer is TMA unit, waits via scoreboarding)
    typename CollectiveMainloop::PipelineState mainloop_pipe_consumer_state;
    typename CollectiveEpilogue::LoadPipelineState epi_load_pipe_consumer_state;

    // For the DMA Load (producer) we start with an opposite phase
    // i.e., we skip all waits since we know that the buffer is indeed empty
    cutlass::PipelineState mainloop_pipe_producer_state = cutlass::make_producer_start_state<MainloopPipeline>();
    cutlass::PipelineState epi_load_pipe_producer_state = cutlass::make_producer_start_state<EpiLoadPipeline>();
    cutlass::PipelineState epi_store_pipe_producer_state = cutlass::make_producer_start_state<EpiStorePipeline>();

    auto cluster_wait_fn = []() {
      // We need this to guarantee that the Pipeline init is visible
      // To all producers and consumer thread blocks in the Cluster
      if constexpr (size(ClusterShape{}) > 1) {
        cute::cluster_arrive_relaxed();
        return []() { cute::cluster_wait(); };
      } else {
        __syncthreads();
        return []() {};  // do nothing
      }
    }();

    // (M, N, (C,S,R), 1): the problem shape the mainloop's load_init and the epilogue take
    auto problem_shape_MNKL = append<4>(params.problem_shape, Int<1>{});

    TiledMma tiled_mma;
    auto blk_shape = TileShape{};  // (BLK_M,BLK_N,BLK_K)

    TileScheduler scheduler{params.scheduler};
    typename TileScheduler::WorkTileInfo work_tile_info;

    CollectiveMainloop collective_mainloop;

    // Conv: load_init returns (BLK_M,BLK_K,m,k) and (BLK_N,BLK_K,n,k) -- no L mode.
    auto load_inputs = collective_mainloop.load_init(problem_shape_MNKL, params.mainloop);
    static_assert(cute::tuple_size_v<decltype(load_inputs)> >= 2, "Output of load_init must have at least two elements (A, B)");
    Tensor gA_mkl = get<0>(load_inputs);
    Tensor gB_nkl = get<1>(load_inputs);
    // Every tile runs the whole K loop (the static persistent scheduler never splits K).
    auto const k_tile_count = size<3>(gA_mkl);

    auto tile_coord = [&](auto const& work) {
      auto m_coord = idx2crd(work.M_idx, shape<2>(gA_mkl));
      auto n_coord = idx2crd(work.N_idx, shape<2>(gB_nkl));
      return make_coord(m_coord, n_coord, _, Int<0>{});
    };

    // Wait for all thread blocks in the Cluster
    cluster_wait_fn();

    if (warp_group_role == WarpGroupRole::Producer) {
      work_tile_info = scheduler.initial_work_tile_info(ClusterShape{});
      cutlass::arch::warpgroup_reg_dealloc<LoadRegisterRequirement>();

      // Mainloop Producer Warp
      if (producer_warp_role == ProducerWarpRole::Mainloop) {
        // Ensure that the prefetched kernel does not touch
        // unflushed global memory prior to this instruction
        cutlass::arch::wait_on_dependent_grids();
        bool do_load_order_arrive = true;
        while (work_tile_info.is_valid()) {
          auto blk_coord = tile_coord(work_tile_info);
          auto k_tile_iter = cute::make_coord_iterator(shape<3>(gA_mkl));

          collective_mainloop.load(
            params.mainloop,
            mainloop_pipeline,
            mainloop_pipe_producer_state,
            load_inputs,
            blk_coord,
            k_tile_iter, k_tile_count,
            lane_idx,
            block_rank_in_cluster,
            shared_storage.tensors.mainloop
          );
          // Update starting pipeline state for the next tile
          mainloop_pipe_producer_state.advance(k_tile_count);

          // Signal for the epilogue load warp to begin
          if (do_load_order_arrive) {
            load_order_barrier.arrive();
            do_load_order_arrive = false;
          }
          work_tile_info = cute::get<0>(scheduler.fetch_next_work(work_tile_info));
        }

        // Make sure all Consumer Warp Groups have been waited upon
        collective_mainloop.load_tail(mainloop_pipeline, mainloop_pipe_producer_state);
      }

      // Epilogue Producer Warp (C = the residual)
      else if (producer_warp_role == ProducerWarpRole::Epilogue && is_epi_load_needed) {
        // Ensure that the prefetched kernel does not touch
        // unflushed global memory prior to this instruction
        cutlass::arch::wait_on_dependent_grids();

        if (work_tile_info.is_valid()) {
          load_order_barrier.wait();
        }

        while (work_tile_info.is_valid()) {
          auto blk_coord = tile_coord(work_tile_info);
          epi_load_pipe_producer_state = collective_epilogue.load(
            epi_load_pipeline,
            epi_load_pipe_producer_state,
            problem_shape_MNKL,
            blk_shape,
            blk_coord,
            tiled_mma,
            lane_idx,
            shared_storage.tensors.epilogue
          );
          work_tile_info = cute::get<0>(scheduler.fetch_next_work(work_tile_info));
        }

        // Make sure all Consumer Warp Groups have been waited upon
        collective_epilogue.load_tail(epi_load_pipeline, epi_load_pipe_producer_state);
      }
    }  // Producer Warp Group End

    else if (warp_group_role == WarpGroupRole::Consumer0 || warp_group_role == WarpGroupRole::Consumer1) {
      work_tile_info = scheduler.initial_work_tile_info(ClusterShape{});
      cutlass::arch::warpgroup_reg_alloc<MmaRegisterRequirement>();

      // The epilogue reads bias (and with a residual, C through the producer warp above) and
      // writes D: this warpgroup waits for the prior grid too (the mainloop's first stage comes
      // later anyway), so no path of this kernel touches global memory before the wait.
      cutlass::arch::wait_on_dependent_grids();

      // Do we potentially issue tail arrives for TMA stores, if epilogue load is waiting for it
      bool do_store_tail = false;
      while (work_tile_info.is_valid()) {
        auto blk_coord = tile_coord(work_tile_info);
        auto accumulators = partition_fragment_C(tiled_mma, take<0, 2>(blk_shape));  // (MMA,MMA_M,MMA_N)

        collective_mainloop.mma(
          mainloop_pipeline,
          mainloop_pipe_consumer_state,
          accumulators,
          k_tile_count,
          mma_thread_idx,
          shared_storage.tensors.mainloop,
          params.mainloop
        );

        // Make sure the math instructions are done and free buffers before entering the epilogue
        collective_mainloop.mma_tail(
          mainloop_pipeline,
          mainloop_pipe_consumer_state,
          k_tile_count
        );

        // Update starting mainloop pipeline state for the next tile
        mainloop_pipe_consumer_state.advance(k_tile_count);

#ifdef CUTLASS_ENABLE_GDC_FOR_SM90
        if (scheduler.is_last_tile(work_tile_info)) {
          // Hint on an early release of global memory resources.
          // The timing of calling this function only influences performance,
          // not functional correctness.
          cutlass::arch::launch_dependent_grids();
        }
#endif

        // Epilogue and write to gD
        auto [epi_load_pipe_consumer_state_next, epi_store_pipe_producer_state_next] =
        collective_epilogue.store(
          epi_load_pipeline,
          epi_load_pipe_consumer_state,
          epi_store_pipeline,
          epi_store_pipe_producer_state,
          problem_shape_MNKL,
          blk_shape,
          blk_coord,
          accumulators,
          tiled_mma,
          mma_thread_idx,
          shared_storage.tensors.epilogue
        );
        epi_load_pipe_consumer_state = epi_load_pipe_consumer_state_next;
        epi_store_pipe_producer_state = epi_store_pipe_producer_state_next;
        do_store_tail = true;

        work_tile_info = cute::get<0>(scheduler.fetch_next_work(work_tile_info));
      }  // Scheduler work fetch loop

      if (do_store_tail) {
        collective_epilogue.store_tail(
          epi_load_pipeline,
          epi_load_pipe_consumer_state,
          epi_store_pipeline,
          epi_store_pipe_producer_state
        );
      }
    }  // Consumer Warp Groups End
#else
    printf("ERROR : Arch conditional MMA instruction used without targeting sm90a compute capability. Aborting.\n");
#endif
  }
};

}  // namespace ait::conv

#endif  // AIT_SM90_CONV_PERSISTENT_HPP
