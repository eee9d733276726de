package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/dav"
	"github.com/crmdav/crmdav/syncstate"
)

// storeAdapter gives dav the Store it declares, over syncstate. It
// translates types and errors; a client change accepted here kicks the
// pusher, which sends it after the push delay.
type storeAdapter struct {
	st   *syncstate.Store
	sync *syncstate.Syncer
}

func davErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syncstate.ErrNotFound):
		return fmt.Errorf("%w: %v", dav.ErrNotFound, err)
	case errors.Is(err, syncstate.ErrPrecondition):
		return fmt.Errorf("%w: %v", dav.ErrPrecondition, err)
	case errors.Is(err, syncstate.ErrConflict):
		return fmt.Errorf("%w: %v", dav.ErrConflict, err)
	case errors.Is(err, syncstate.ErrInvalid):
		return fmt.Errorf("%w: %v", dav.ErrInvalid, err)
	}
	return err
}

func davCollection(c syncstate.Collection) dav.Collection {
	d := dav.Collection{Slug: c.Slug, Kind: dav.Calendar, DisplayName: c.DisplayName, Color: c.Color, Order: c.Order, Revision: c.Revision}
	switch c.Kind {
	case crmclient.Contact:
		d.Kind = dav.AddressBook
	case crmclient.Appointment:
		d.Components = []string{"VEVENT"}
	case crmclient.Email:
		// E-mails are read only (issue 6): the CRM sends them, not the
		// calendar apps.
		d.Components, d.ReadOnly = []string{"VJOURNAL"}, true
	default:
		d.Components = []string{"VTODO"}
	}
	return d
}

func (a storeAdapter) Collections(ctx context.Context, user string) ([]dav.Collection, error) {
	cs, err := a.st.Collections(ctx, user)
	if err != nil {
		return nil, davErr(err)
	}
	out := make([]dav.Collection, len(cs))
	for i, c := range cs {
		out[i] = davCollection(c)
	}
	return out, nil
}

func (a storeAdapter) Collection(ctx context.Context, user, slug string) (dav.Collection, error) {
	c, err := a.st.Collection(ctx, user, slug)
	return davCollection(c), davErr(err)
}

func (a storeAdapter) Get(ctx context.Context, user, slug, name string) (dav.Object, error) {
	it, err := a.st.Get(ctx, user, slug, name)
	return dav.Object{Name: it.Href, ETag: it.ETag, Body: it.Body}, davErr(err)
}

func (a storeAdapter) List(ctx context.Context, user, slug string, withBody bool, fn func(dav.Object) error) error {
	return davErr(a.st.Objects(ctx, user, slug, withBody, func(it syncstate.Item) error {
		return fn(dav.Object{Name: it.Href, ETag: it.ETag, Body: it.Body})
	}))
}

func (a storeAdapter) GetMany(ctx context.Context, user, slug string, names []string, fn func(dav.Object) error) error {
	return davErr(a.st.GetMany(ctx, user, slug, names, func(it syncstate.Item) error {
		return fn(dav.Object{Name: it.Href, ETag: it.ETag, Body: it.Body})
	}))
}

func (a storeAdapter) Put(ctx context.Context, user, slug, name string, body []byte, cond dav.Conditions) (string, bool, error) {
	etag, created, err := a.st.Put(ctx, user, slug, name, body, syncstate.Conditions(cond))
	if err == nil {
		a.sync.Kick()
	}
	return etag, created, davErr(err)
}

func (a storeAdapter) Delete(ctx context.Context, user, slug, name string, cond dav.Conditions) error {
	err := a.st.Delete(ctx, user, slug, name, syncstate.Conditions(cond))
	if err == nil {
		a.sync.Kick()
	}
	return davErr(err)
}

func (a storeAdapter) Changes(ctx context.Context, user, slug string, since int64) ([]dav.Change, int64, error) {
	cs, rev, err := a.st.Changes(ctx, user, slug, since)
	if err != nil {
		return nil, 0, davErr(err)
	}
	out := make([]dav.Change, len(cs))
	for i, c := range cs {
		out[i] = dav.Change{Name: c.Href, Revision: c.Revision, Deleted: c.Deleted, ETag: c.ETag}
	}
	return out, rev, nil
}

func (a storeAdapter) SetProps(ctx context.Context, user, slug string, p dav.Props) error {
	return davErr(a.st.SetProps(ctx, user, slug, syncstate.Props(p)))
}

func (a storeAdapter) Query(ctx context.Context, user, slug string, start, end time.Time, withBody bool, fn func(dav.Object) error) error {
	return davErr(a.st.Query(ctx, user, slug, start, end, withBody, func(it syncstate.Item) error {
		return fn(dav.Object{Name: it.Href, ETag: it.ETag, Body: it.Body})
	}))
}
