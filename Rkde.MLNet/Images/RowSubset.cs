using Microsoft.ML;
using Microsoft.ML.Data;

namespace Rkde.MLNet.Images;

/// <summary>The rows of a data view whose position is marked in <c>keep</c>, with all its columns; used during Fit only.</summary>
internal sealed class RowSubset(IDataView source, bool[] keep) : IDataView
{
    public bool CanShuffle => false;

    public DataViewSchema Schema => source.Schema;

    public long? GetRowCount() => keep.Count(k => k);

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(source.GetRowCursor(columnsNeeded), keep);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded)];

    private sealed class Cursor(DataViewRowCursor inner, bool[] keep) : DataViewRowCursor
    {
        private long _position = -1;
        private long _sourceRow = -1;

        public override DataViewSchema Schema => inner.Schema;

        public override long Position => _position;

        public override long Batch => inner.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);

        /// <summary>Rows past the end of <c>keep</c> (added to the source after it was checked) are left out.</summary>
        public override bool MoveNext()
        {
            while (inner.MoveNext())
            {
                _sourceRow++;
                if (_sourceRow < keep.Length && keep[_sourceRow])
                {
                    _position++;
                    return true;
                }
            }
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
