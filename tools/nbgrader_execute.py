"""Autograde's execution, where a fault costs only the cell that caused it: nbgrader_config.py uses it.

nbgrader stops grading a notebook whose kernel dies (``os._exit``, a
signal, the sandbox's memory limit): the submission is "not graded" and
every point is lost, also those of cells that passed. And a loop that
ignores the interrupt keeps the kernel busy, so every later cell times out.

KeepGrading runs the cells as nbgrader does, except when the kernel dies in
a cell or stays busy after the time limit's interrupt: that cell gets an
error saying so, a new kernel starts, the code cells before it run again
on scratch copies (the notebook keeps the outputs of their first run: a
graded cell keeps the result it had), and grading goes on with the next
cell, the faulty one and any earlier one that faulted skipped. The log says
"restarted the kernel", which tools/grade.py reports for the instructor.
"""
import asyncio

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

RESTART_MARK = "restarted the kernel"
FAULTS = {"died": "the kernel died while this cell ran (os._exit, a signal or the memory limit)",
          "stuck": "this cell ignored the interrupt at the time limit and kept the kernel busy"}
BUSY_SECONDS = 20         # after the interrupt, a kernel still busy this long counts as stuck


class KeepGrading(Execute):
    """nbgrader's Execute, restarting a dead or stuck kernel instead of giving up on the notebook."""

    def preprocess(self, nb, resources=None, km=None):
        self._skipped = set()        # cells a replay leaves out: they faulted or timed out
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        self._check_assign_resources(resources)
        fault = self._run(cell, index)
        if fault or _timed_out(cell):
            self._skipped.add(index)
        if fault:
            self._record(cell, fault)
            self._restart_and_replay(index)
        return cell, self.resources

    def _run(self, cell, index):
        """Execute one cell; None, or what went wrong with the kernel ("died", "stuck")."""
        try:
            self.execute_cell(cell, index, store_history=True)
        except DeadKernelError:
            return "died"
        except CellTimeoutError:     # no output for a while after the interrupt: it ignored it
            return "stuck"
        if _timed_out(cell) and not run_sync(self._responds)():
            return "stuck"
        return None

    async def _responds(self):
        """True when the kernel answers a kernel_info request within BUSY_SECONDS (it is not stuck)."""
        msg_id = await ensure_async(self.kc.kernel_info())
        try:
            await asyncio.wait_for(self._reply_to(msg_id), BUSY_SECONDS)
            return True
        except asyncio.TimeoutError:
            return False

    async def _reply_to(self, msg_id):
        while True:
            msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def _record(self, cell, fault):
        what = FAULTS[fault]
        self.log.warning("Cell %s: %s; %s and ran the cells before it again", cell.get("id"), what,
                         RESTART_MARK)
        cell.outputs = [o for o in cell.get("outputs", []) if o.get("ename") != "CellTimeoutError"]
        cell.outputs.append(NotebookNode(output_type="error", ename="KernelFault", evalue=what,
                                         traceback=[f"KernelFault: {what}"]))

    async def _new_kernel(self):
        self.kc.stop_channels()
        await ensure_async(self.km.restart_kernel(now=True))
        await self.async_start_new_kernel_client()

    def _restart_and_replay(self, index):
        """A new kernel, on which the code cells before ``index`` run again (outputs discarded).

        Cells that faulted or hit the time limit are left out; one that faults now is left out too,
        and the replay starts over on another new kernel.
        """
        while True:
            run_sync(self._new_kernel)()
            for earlier, cell in enumerate(self.nb.cells[:index]):
                if cell.cell_type != "code" or earlier in self._skipped:
                    continue
                scratch = NotebookNode(cell_type="code", source=cell.source, metadata={}, outputs=[],
                                       execution_count=None, id=cell.get("id"))
                try:
                    self.execute_cell(scratch, earlier, store_history=False)
                except (DeadKernelError, CellTimeoutError):
                    self._skipped.add(earlier)
                    break
                finally:
                    self.nb.cells[earlier] = cell        # nbclient stores the cell it ran at its index
            else:
                return


def _timed_out(cell):
    """True when nbgrader stopped this cell at the time limit."""
    errors = [o.get("ename") for o in cell.get("outputs", [])]
    return cell.cell_type == "code" and "CellTimeoutError" in errors
