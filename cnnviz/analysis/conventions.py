"""Where the course notes' figures use another convention than ours, said next to our numbers.

The course notes call multiply-accumulates "FLOPs" (AlexNet 724M, VGG-16 15.5G, GoogLeNet
1.43G), quote LeNet-5's 341K, the 1998 paper's *connection* count, and give VGG-16 a
24M activation total that is not the sum of their own rows (15.2M).
"""
from __future__ import annotations

from cnnviz.analysis.report import Report, human_count

# model name -> (the course notes' figure, in their words; what it counts)
NOTES_FIGURES: dict[str, list[tuple[str, str]]] = {
    "lenet5": [("341K FLOPs", "connections of the 1998 paper: weights + biases + subsampling inputs "
                              "(C1 122,304, S2 5,880, C3 151,600, S4 2,000, C5 48,120, F6 10,164)")],
    "alexnet_paper": [("724M FLOPs", "multiply-accumulates")],
    "alexnet": [("724M FLOPs", "multiply-accumulates of the paper's AlexNet (alexnet_paper); torchvision's "
                               "variant has 64/192/384/256/256 filters")],
    "vgg16": [("15.5G FLOPs", "multiply-accumulates"),
              ("24M activations x 4 bytes = 96MB / image", "the rows of the course notes' own table add up to 15.2M "
                                                           "values (+150K input)")],
    "googlenet": [("1.43G FLOPs", "multiply-accumulates of the paper's GoogLeNet (branch_5x5=5x5, no BN)")],
}


def course_notes(report: Report) -> list[str]:
    """Sentences that set the course notes' figures for ``report.model`` beside this report's numbers."""
    t = report.totals
    ours = (f"here: {human_count(t.macs)} MACs = {human_count(t.flops)} FLOPs "
            f"(FLOPs = 2 x MACs), {human_count(t.params)} parameters")
    notes = [f"The course notes' \"{figure}\" counts {what}; {ours}."
             for figure, what in NOTES_FIGURES.get(report.model, [])]
    if report.model == "vgg16":
        notes.append(f"Activation values here: {human_count(t.activation_values)} per image (in-place ReLUs allocate nothing).")
    return notes
