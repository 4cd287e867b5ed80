namespace Rkde.MLNet.Regions;

/// <summary>Names of the region filter graph's tensors (they become ML.NET column names through OnnxTransformer).</summary>
/// <param name="Boxes">Input: float [1, N, 4], x1, y1, x2, y2 in pixels of the model input.</param>
/// <param name="Scores">Input: float [1, N], detector confidences.</param>
/// <param name="KeptBoxes">Output: float [1, K, 4], the kept boxes in pixels, clipped to the image.</param>
/// <param name="KeptScores">Output: float [1, K], their scores, highest first.</param>
/// <param name="KeptBoxesNormalized">Output: float [1, K, 4], the clipped boxes divided by width and height.</param>
/// <param name="KeptIndices">Output: int64 [1, K], the kept boxes' indices into the input.</param>
internal sealed record RegionFilterGraphNames(
    string Boxes = "boxes",
    string Scores = "scores",
    string KeptBoxes = "kept_boxes",
    string KeptScores = "kept_scores",
    string KeptBoxesNormalized = "kept_boxes_normalized",
    string KeptIndices = "kept_indices");
